namespace Orchestration.State.Etcd;

/// <summary>How to reach the etcd cluster, and the shared store limits.</summary>
public sealed class EtcdStateStoreOptions : StateStoreOptions
{
    /// <summary>Client URLs of the cluster's members (<c>http://127.0.0.1:2379</c>); the client fails over between them.</summary>
    public IList<string> Endpoints { get; set; } = new List<string>();

    /// <summary>How long one request may take before it is reported as the cluster being unavailable.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
