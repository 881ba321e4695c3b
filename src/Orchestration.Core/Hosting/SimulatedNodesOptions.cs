namespace Orchestration.Hosting;

/// <summary>How many simulated nodes a worker runs, and how they are named.</summary>
public sealed class SimulatedNodesOptions
{
    /// <summary>How many nodes (each a node agent over its own <see cref="Runtime.SimulatedRuntime"/>).</summary>
    public int Count { get; set; } = 1;

    /// <summary>
    /// Their names' prefix: <c>sim-node</c> gives <c>sim-node-0</c>, <c>sim-node-1</c>, ...; null
    /// takes the worker's node name.
    /// </summary>
    public string? NamePrefix { get; set; }

    /// <summary>Whether a single node is numbered too (<c>sim-node-0</c>) or takes the prefix as its name.</summary>
    public bool NumberSingle { get; set; }
}
