namespace Orchestration.Networking;

/// <summary>The desired state of every node's data plane: each Service port with its virtual addresses and endpoints. Immutable.</summary>
public sealed class ServiceTable
{
    /// <summary>A table of <paramref name="ports"/> (one entry per port name).</summary>
    public ServiceTable(IEnumerable<ServicePort> ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        Ports = ports.ToDictionary(p => p.Name);
    }

    /// <summary>No services.</summary>
    public static ServiceTable Empty { get; } = new([]);

    /// <summary>Every Service port, by name.</summary>
    public IReadOnlyDictionary<ServicePortName, ServicePort> Ports { get; }
}
