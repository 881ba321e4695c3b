namespace Orchestration.NodeAgent;

/// <summary>
/// The restart back-off of crashing containers, as kubelet keeps it: the first restart is at once,
/// each later one waits twice as long as the one before (from <see cref="NodeAgentOptions.BackOffInitial"/>
/// up to <see cref="NodeAgentOptions.BackOffMax"/>), and a container that ran twice the maximum
/// since its last restart starts over from the initial delay.
/// </summary>
internal sealed class ContainerBackOff(TimeSpan initial, TimeSpan max, TimeProvider timeProvider)
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();

    /// <summary>
    /// How long is left of the back-off of <paramref name="key"/> for a container that exited at
    /// <paramref name="exitedAt"/>, and the back-off's whole length; zero left when it may restart now.
    /// </summary>
    public (TimeSpan Remaining, TimeSpan Period) Remaining(string key, DateTimeOffset exitedAt)
    {
        lock (_sync)
        {
            if (!_entries.TryGetValue(key, out var entry) || Expired(entry, exitedAt))
            {
                return (TimeSpan.Zero, TimeSpan.Zero);
            }

            var left = exitedAt + entry.Period - timeProvider.GetUtcNow();
            return (left > TimeSpan.Zero ? left : TimeSpan.Zero, entry.Period);
        }
    }

    /// <summary>Records a restart of <paramref name="key"/> after an exit at <paramref name="exitedAt"/>: the next back-off doubles.</summary>
    public void Restarted(string key, DateTimeOffset exitedAt)
    {
        lock (_sync)
        {
            var period = _entries.TryGetValue(key, out var entry) && !Expired(entry, exitedAt)
                ? TimeSpan.FromTicks(Math.Min(entry.Period.Ticks * 2, max.Ticks))
                : initial;
            _entries[key] = new Entry(period, exitedAt);
        }
    }

    /// <summary>Forgets the back-offs of a pod that is gone.</summary>
    public void Forget(string keyPrefix)
    {
        lock (_sync)
        {
            foreach (var key in _entries.Keys.Where(k => k.StartsWith(keyPrefix, StringComparison.Ordinal)).ToList())
            {
                _entries.Remove(key);
            }
        }
    }

    private bool Expired(Entry entry, DateTimeOffset at) => at - entry.LastUpdate > 2 * max;

    private sealed record Entry(TimeSpan Period, DateTimeOffset LastUpdate);
}
