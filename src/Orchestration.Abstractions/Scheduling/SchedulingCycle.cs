namespace Orchestration.Scheduling;

/// <summary>
/// The state of one pod's scheduling attempt (kube-scheduler's CycleState): pre-filter plugins
/// compute what every node's check needs once (counts per topology domain) and leave it here for
/// their filter and score steps. One cycle belongs to one attempt; it is not shared between pods.
/// </summary>
public sealed class SchedulingCycle
{
    private readonly Dictionary<string, object> _state = new(StringComparer.Ordinal);

    /// <summary>The nodes of this attempt, all of them (filters see one node at a time).</summary>
    public IReadOnlyList<SchedulingNode> Nodes { get; init; } = [];

    /// <summary>Stores a plugin's state under its key (by convention the plugin's name).</summary>
    public void Write(string key, object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _state[key] = value;
    }

    /// <summary>The state stored under <paramref name="key"/>, or null.</summary>
    public T? Read<T>(string key)
        where T : class => _state.GetValueOrDefault(key) as T;
}
