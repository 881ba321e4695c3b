using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;

namespace Orchestration.Informers;

/// <summary>
/// Shares one informer per kind among the controllers of a process, so that each kind is listed and
/// watched once. Informers asked for before <see cref="RunAsync"/> start with it; later ones start
/// at once.
/// </summary>
public sealed class InformerFactory(IClusterClient client, TimeProvider? timeProvider = null, ILoggerFactory? loggers = null)
{
    private readonly ConcurrentDictionary<Type, object> _informers = new();
    private readonly ConcurrentDictionary<Type, Func<CancellationToken, Task>> _runs = new();
    private readonly List<Task> _running = [];
    private readonly Lock _sync = new();
    private CancellationToken? _runToken;

    /// <summary>Settings for the informers this factory creates.</summary>
    public InformerOptions Options { get; init; } = new();

    /// <summary>The shared informer of a kind.</summary>
    public Informer<T> For<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (_informers.TryGetValue(typeof(T), out var existing))
        {
            return (Informer<T>)existing;
        }

        // Made under the lock: two components asking for a kind at once must get the one informer
        // that runs (GetOrAdd may call its factory twice, and the loser's run would start instead).
        lock (_sync)
        {
            if (_informers.TryGetValue(typeof(T), out existing))
            {
                return (Informer<T>)existing;
            }

            var created = new Informer<T>(client, Options, timeProvider, (loggers ?? NullLoggerFactory.Instance).CreateLogger<Informer<T>>());
            _informers[typeof(T)] = created;
            if (_runToken is { } token)
            {
                _running.Add(Task.Run(() => created.RunAsync(token), CancellationToken.None));
            }
            else
            {
                _runs[typeof(T)] = created.RunAsync;
            }

            return created;
        }
    }

    /// <summary>Runs every informer until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            _runToken = cancellationToken;
            foreach (var type in _runs.Keys.ToList())
            {
                if (_runs.TryRemove(type, out var run))
                {
                    _running.Add(Task.Run(() => run(cancellationToken), CancellationToken.None));
                }
            }
        }

        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        Task[] running;
        lock (_sync)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }
}
