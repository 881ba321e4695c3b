using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Orchestration.State;

/// <summary>
/// The state store kept in memory only: for tests and simulation. Writes are visible at once and
/// reads never wait for writes; nothing survives the process.
/// </summary>
public sealed class InMemoryStateStore : MvccStateStore
{
    /// <summary>Creates an empty store.</summary>
    public InMemoryStateStore(StateStoreOptions? options = null, TimeProvider? timeProvider = null, ILogger<InMemoryStateStore>? logger = null)
        : base(options, journal: null, timeProvider, logger)
    {
    }

    /// <summary>Creates an empty store from configured options.</summary>
    public InMemoryStateStore(IOptions<StateStoreOptions> options, TimeProvider timeProvider, ILogger<InMemoryStateStore> logger)
        : this(options.Value, timeProvider, logger)
    {
    }
}
