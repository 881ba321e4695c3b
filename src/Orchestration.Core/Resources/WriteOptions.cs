namespace Orchestration.Resources;

/// <summary>How a write is carried out.</summary>
public sealed record WriteOptions
{
    /// <summary>Run every check and compute the result, but store nothing (<c>dryRun=All</c>).</summary>
    public bool DryRun { get; init; }

    /// <summary>Who asks for the write (the API server's authenticated user), for admission plugins and webhooks; null for the cluster's own components.</summary>
    public RequestUser? User { get; init; }

    /// <summary>Where admission plugins' warnings go (the API server returns them as <c>Warning</c> headers); null to drop them.</summary>
    public ICollection<string>? Warnings { get; init; }

    /// <summary>Where admission plugins' audit annotations go (the API server's audit log records them on the request's event); null to drop them.</summary>
    public IDictionary<string, string>? AuditAnnotations { get; init; }

    /// <summary>A write with no options.</summary>
    public static WriteOptions Default { get; } = new();
}

/// <summary>The user a write is made for, as the API server authenticated it.</summary>
/// <param name="Name">The user name.</param>
/// <param name="Groups">Its groups.</param>
/// <param name="Uid">Its uid, when it has one.</param>
public sealed record RequestUser(string Name, IReadOnlyList<string> Groups, string Uid = "");
