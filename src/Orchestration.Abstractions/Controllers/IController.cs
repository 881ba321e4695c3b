namespace Orchestration.Controllers;

/// <summary>
/// A controller: brings the cluster's state for one object key toward what that object asks for.
/// Level-based: it is told only which key to look at, never what changed, and must be safe to run
/// again on the same key at any time.
/// </summary>
public interface IController
{
    /// <summary>Reconciles one object; an exception retries the key with backoff.</summary>
    Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken);
}

/// <summary>The key of an object: its namespace (null for cluster-scoped kinds) and name.</summary>
/// <param name="Namespace">The namespace, or null.</param>
/// <param name="Name">The name.</param>
public readonly record struct ObjectKey(string? Namespace, string Name)
{
    /// <inheritdoc />
    public override string ToString() => Namespace is null ? Name : $"{Namespace}/{Name}";
}

/// <summary>What a reconcile asks for next.</summary>
/// <param name="RequeueAfter">Look at the key again after this long (a timeout to check), or null.</param>
public sealed record ReconcileResult(TimeSpan? RequeueAfter = null)
{
    /// <summary>Nothing more to do until the object or what it owns changes.</summary>
    public static ReconcileResult Done { get; } = new();

    /// <summary>Look again after <paramref name="delay"/>.</summary>
    public static ReconcileResult After(TimeSpan delay) => new(delay);
}
