using System.Globalization;
using Microsoft.AspNetCore.Http;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Handlers;

/// <summary>The query parameters of a resource request, read and checked once.</summary>
internal sealed class RequestOptions
{
    private RequestOptions(IQueryCollection query)
    {
        Query = query;
    }

    public IQueryCollection Query { get; }

    public bool DryRun { get; private init; }

    public string FieldValidation { get; private init; } = "Warn";

    public string? FieldManager { get; private init; }

    public bool Force { get; private init; }

    /// <summary>Who asks (set by the handler from the authenticated user).</summary>
    public RequestUser? User { get; set; }

    /// <summary>Where the admission plugins' warnings for this request go.</summary>
    public ICollection<string>? Warnings { get; set; }

    /// <summary>Where a write's admission plugins put audit annotations: the audit log's, when it records this request.</summary>
    public IDictionary<string, string>? AuditAnnotations { get; set; }

    public WriteOptions Write => new() { DryRun = DryRun, User = User, Warnings = Warnings, AuditAnnotations = AuditAnnotations };

    public static RequestOptions Read(HttpRequest request)
    {
        var query = request.Query;
        var dryRun = query["dryRun"].ToString();
        if (dryRun.Length > 0 && dryRun != "All")
        {
            throw new BadRequestException($"dryRun: Unsupported value: \"{dryRun}\": supported values: \"All\"");
        }

        var validation = query["fieldValidation"].ToString();
        if (validation.Length > 0 && validation is not ("Strict" or "Warn" or "Ignore"))
        {
            throw new BadRequestException($"fieldValidation: Unsupported value: \"{validation}\": supported values: \"Ignore\", \"Strict\", \"Warn\"");
        }

        var manager = query["fieldManager"].ToString();
        if (manager.Length > 128)
        {
            throw new BadRequestException("fieldManager: Too long: may not be longer than 128 characters");
        }

        return new RequestOptions(query)
        {
            DryRun = dryRun == "All",
            FieldValidation = validation.Length > 0 ? validation : "Warn",
            FieldManager = manager.Length > 0 ? manager : null,
            Force = query["force"].ToString() == "true",
        };
    }

    public string? String(string name) => Query[name].ToString() is { Length: > 0 } value ? value : null;

    public bool Flag(string name) => Query[name].ToString() is "1" or "true" or "True";

    public int Int(string name)
    {
        var text = Query[name].ToString();
        if (text.Length == 0)
        {
            return 0;
        }

        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new BadRequestException($"{name}: Invalid value: \"{text}\": must be a non-negative integer");
    }
}
