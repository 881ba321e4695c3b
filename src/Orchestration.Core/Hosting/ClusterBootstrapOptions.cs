namespace Orchestration.Hosting;

/// <summary>What the bootstrap of a new cluster needs to know.</summary>
public sealed class ClusterBootstrapOptions
{
    /// <summary>The API server's port: the target port of the <c>kubernetes</c> Service (set by the API server's registration).</summary>
    public int ApiServerPort { get; set; } = 6443;
}
