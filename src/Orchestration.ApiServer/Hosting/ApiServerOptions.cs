namespace Orchestration.ApiServer.Hosting;

/// <summary>Settings of the API server.</summary>
public sealed class ApiServerOptions
{
    /// <summary>The largest request body taken; larger ones get 413 (Kubernetes takes 3 MiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 3 * 1024 * 1024;

    /// <summary>How long a watch runs when the client names no timeout.</summary>
    public TimeSpan DefaultWatchTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The version <c>/version</c> reports (kubectl compares it with its own).</summary>
    public string GitVersion { get; set; } = "v1.33.0-orchestration";

    /// <summary>An audit policy file (audit.k8s.io/v1 <c>Policy</c>, kube-apiserver's <c>--audit-policy-file</c>); with <see cref="AuditLogPath"/>, requests are audited. Only requests with credentials are audited (a 401 is not).</summary>
    public string? AuditPolicyFile { get; set; }

    /// <summary>Where the audit log's JSON lines are appended (kube-apiserver's <c>--audit-log-path</c>).</summary>
    public string? AuditLogPath { get; set; }

    /// <summary>Read-only requests served at once, over every priority level (kube-apiserver's <c>--max-requests-inflight</c>, 400).</summary>
    public int MaxRequestsInFlight { get; set; } = 400;

    /// <summary>Mutating requests served at once, over every priority level (kube-apiserver's <c>--max-mutating-requests-inflight</c>, 200).</summary>
    public int MaxMutatingRequestsInFlight { get; set; } = 200;

    /// <summary>Requests that may wait for a seat, per pool; beyond them a request gets 429 at once.</summary>
    public int MaxQueuedRequests { get; set; } = 100;

    /// <summary>How long a queued request waits for a seat before it gets 429.</summary>
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A static token file (kube-apiserver's <c>--token-auth-file</c>: <c>token,user,uid[,"groups"]</c> per line), read at start; null for none.</summary>
    public string? TokenAuthFile { get; set; }

    /// <summary>Whether a request without any credential is served as <c>system:anonymous</c> (<c>--anonymous-auth</c>); off, so it gets 401.</summary>
    public bool AnonymousAuth { get; set; }
}
