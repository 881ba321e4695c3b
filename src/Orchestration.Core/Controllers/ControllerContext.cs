using Orchestration.Informers;

namespace Orchestration.Controllers;

/// <summary>What the controller manager shares with the controllers it runs: the informers of the current term.</summary>
public sealed class ControllerContext
{
    private InformerFactory? _informers;

    /// <summary>The shared informers; their caches are the controllers' listers.</summary>
    /// <exception cref="InvalidOperationException">The controllers are not running.</exception>
    public InformerFactory Informers
    {
        get => Volatile.Read(ref _informers) ?? throw new InvalidOperationException("the controllers are not running, so there are no informers");
        internal set => Volatile.Write(ref _informers, value);
    }

    /// <summary>The shared informers while the controllers run, else null (a controller reconciled by hand, in a test).</summary>
    public InformerFactory? Current => Volatile.Read(ref _informers);
}
