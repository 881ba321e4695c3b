namespace Orchestration.NodeAgent;

/// <summary>Who a node agent is and what its node offers.</summary>
public sealed class NodeAgentOptions
{
    /// <summary>The node's name.</summary>
    public string NodeName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>CPU the node offers (a quantity).</summary>
    public string Cpu { get; set; } = "4";

    /// <summary>Memory the node offers (a quantity).</summary>
    public string Memory { get; set; } = "16Gi";

    /// <summary>How many pods the node takes.</summary>
    public int MaxPods { get; set; } = 110;

    /// <summary>Extra labels of the node.</summary>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>();

    /// <summary>How long the node's Lease holds without renewal (kubelet's default 40 s).</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(40);

    /// <summary>How often the Lease is renewed (a quarter of its duration, as kubelet does).</summary>
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many pods are worked on at once.</summary>
    public int Workers { get; set; } = 4;
}
