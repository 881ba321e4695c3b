using k8s.Models;

namespace Orchestration.Client;

/// <summary>
/// An error the cluster API reports, shaped as a Kubernetes <c>Status</c>: an HTTP code, a
/// machine-readable reason and, for invalid objects, the fields at fault.
/// </summary>
public class ClusterApiException : Exception
{
    /// <summary>Creates the error.</summary>
    public ClusterApiException(int code, string reason, string message, IReadOnlyList<V1StatusCause>? causes = null, V1StatusDetails? details = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        Reason = reason;
        Causes = causes ?? [];
        Details = details;
    }

    /// <summary>The HTTP status code.</summary>
    public int Code { get; }

    /// <summary>The Kubernetes reason (NotFound, AlreadyExists, Conflict, Invalid, ...).</summary>
    public string Reason { get; }

    /// <summary>The fields at fault, for Invalid.</summary>
    public IReadOnlyList<V1StatusCause> Causes { get; }

    /// <summary>The object the error is about.</summary>
    public V1StatusDetails? Details { get; }

    /// <summary>The error as a Kubernetes Status object.</summary>
    public V1Status ToStatus()
    {
        var details = Details;
        if (Causes.Count > 0)
        {
            details ??= new V1StatusDetails();
            details.Causes = Causes.ToList();
        }

        return new V1Status { ApiVersion = "v1", Kind = "Status", Status = "Failure", Code = Code, Reason = Reason, Message = Message, Details = details };
    }

    /// <summary>The details naming one object.</summary>
    protected static V1StatusDetails About(string group, string kind, string? name) => new() { Group = group, Kind = kind, Name = name };
}

/// <summary>404: no such object.</summary>
public sealed class NotFoundException(string group, string plural, string name)
    : ClusterApiException(404, "NotFound", $"{Qualified(group, plural)} \"{name}\" not found", details: About(group, plural, name))
{
    internal static string Qualified(string group, string plural) => group.Length == 0 ? plural : $"{plural}.{group}";
}

/// <summary>409: an object of that name exists.</summary>
public sealed class AlreadyExistsException(string group, string plural, string name)
    : ClusterApiException(409, "AlreadyExists", $"{NotFoundException.Qualified(group, plural)} \"{name}\" already exists", details: About(group, plural, name));

/// <summary>409: the object changed since the client read it.</summary>
public sealed class ConflictException(string group, string plural, string name, string why)
    : ClusterApiException(409, "Conflict", $"Operation cannot be fulfilled on {NotFoundException.Qualified(group, plural)} \"{name}\": {why}", details: About(group, plural, name))
{
    /// <summary>The reason Kubernetes gives for a stale resourceVersion.</summary>
    public const string Modified = "the object has been modified; please apply your changes to the latest version and try again";
}

/// <summary>422: fields of the object are invalid; <see cref="ClusterApiException.Causes"/> names them.</summary>
public sealed class InvalidException(string group, string kind, string name, IReadOnlyList<V1StatusCause> causes)
    : ClusterApiException(422, "Invalid", $"{kind} \"{name}\" is invalid: {string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}"))}", causes, About(group, kind, name));

/// <summary>400: the request itself is malformed.</summary>
public sealed class BadRequestException(string message, Exception? innerException = null)
    : ClusterApiException(400, "BadRequest", message, innerException: innerException);

/// <summary>410: the requested resource version is too old (compacted); list again.</summary>
public sealed class GoneException(string message, Exception? innerException = null)
    : ClusterApiException(410, "Expired", message, innerException: innerException);

/// <summary>403: the request is not allowed (for example new content in a terminating namespace).</summary>
public sealed class ForbiddenException(string message)
    : ClusterApiException(403, "Forbidden", message);
