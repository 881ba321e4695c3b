using System.Text.Json.Nodes;

namespace Orchestration.Resources.Admission;

/// <summary>What a write asks, as the admission chain sees it.</summary>
public sealed class AdmissionRequest
{
    private List<Func<CancellationToken, ValueTask>>? _aborts;
    private List<Func<CancellationToken, ValueTask>>? _commits;

    /// <summary>A request to admit <paramref name="obj"/>.</summary>
    public AdmissionRequest(ResourceKind kind, AdmissionOperation operation, string? @namespace, string name, JsonObject obj, JsonObject? oldObject, bool dryRun)
    {
        Kind = kind;
        Operation = operation;
        Namespace = @namespace;
        Name = name;
        Object = obj;
        OldObject = oldObject;
        DryRun = dryRun;
    }

    /// <summary>The object's kind.</summary>
    public ResourceKind Kind { get; }

    /// <summary>Whether the object is created, updated or about to leave the store.</summary>
    public AdmissionOperation Operation { get; }

    /// <summary>The object's namespace; null for a cluster-scoped kind.</summary>
    public string? Namespace { get; }

    /// <summary>The object's name.</summary>
    public string Name { get; }

    /// <summary>The object as it would be stored; mutating plugins may change it.</summary>
    public JsonObject Object { get; }

    /// <summary>The stored object on an update or delete; null on a create.</summary>
    public JsonObject? OldObject { get; }

    /// <summary>Whether nothing is to be written (<c>dryRun=All</c>): plugins then hold and allocate nothing.</summary>
    public bool DryRun { get; }

    /// <summary>Who asks for the write; null for the cluster's own components.</summary>
    public RequestUser? User { get; init; }

    /// <summary>Where <see cref="Warn"/> puts warnings.</summary>
    internal ICollection<string>? WarningSink { get; init; }

    /// <summary>Lets the write through with a warning for the client (a <c>Warning</c> header from the API server).</summary>
    public void Warn(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        WarningSink?.Add(message);
    }

    /// <summary>Where <see cref="AddAuditAnnotation"/> puts annotations.</summary>
    internal IDictionary<string, string>? AuditAnnotationSink { get; init; }

    /// <summary>Records <paramref name="key"/>=<paramref name="value"/> on the request's audit event (kube's audit annotations, as PodSecurity's audit mode adds them).</summary>
    public void AddAuditAnnotation(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (AuditAnnotationSink is { } sink)
        {
            lock (sink)
            {
                sink[key] = value;
            }
        }
    }

    /// <summary>Undoes a plugin's side effect (an allocated address) if the write does not happen: refused later in the chain, a conflict, a failed store write.</summary>
    public void OnAbort(Func<CancellationToken, ValueTask> undo) => (_aborts ??= []).Add(undo);

    /// <summary>Runs once the write is in the store (a deleted object's addresses are given back).</summary>
    public void OnCommit(Func<CancellationToken, ValueTask> then) => (_commits ??= []).Add(then);

    /// <summary>The write did not happen: every registered undo runs, the last registered first.</summary>
    internal async ValueTask AbortAsync(CancellationToken cancellationToken)
    {
        for (var i = (_aborts?.Count ?? 0) - 1; i >= 0; i--)
        {
            await _aborts![i](cancellationToken).ConfigureAwait(false);
        }

        _aborts = null;
        _commits = null;
    }

    /// <summary>The write is in the store: every registered follow-up runs.</summary>
    internal async ValueTask CommitAsync(CancellationToken cancellationToken)
    {
        foreach (var then in _commits ?? [])
        {
            await then(cancellationToken).ConfigureAwait(false);
        }

        _aborts = null;
        _commits = null;
    }
}

/// <summary>What a write does to an object.</summary>
public enum AdmissionOperation
{
    /// <summary>A new object.</summary>
    Create,

    /// <summary>A change to a stored object (its status alone does not pass the chain).</summary>
    Update,

    /// <summary>The object leaves the store (at once, or when its last finalizer goes).</summary>
    Delete,
}
