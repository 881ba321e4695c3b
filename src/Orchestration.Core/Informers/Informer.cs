using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;

namespace Orchestration.Informers;

/// <summary>
/// Keeps a local cache of one kind in step with the cluster, as client-go's informers do: it lists,
/// then watches from the list's resourceVersion; a broken or ended watch resumes from the last
/// version it saw (after a backoff when it broke); a 410 (the version was compacted away) lists again
/// and reconciles the cache with what came back, so a change is never missed, only coalesced.
/// Handlers run one at a time, in the order of the changes; keep them short (enqueue a key).
/// </summary>
public sealed partial class Informer<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IClusterClient _client;
    private readonly InformerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Handlers run one at a time, also when a resync fires while the watch delivers.
    private readonly Lock _handlers = new();

    /// <summary>Creates the informer; nothing happens until <see cref="RunAsync"/>.</summary>
    public Informer(IClusterClient client, InformerOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        _options = options ?? new InformerOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Raised for an object the informer sees for the first time.</summary>
    public event Action<T>? Added;

    /// <summary>Raised for a change (old, new); on a resync both are the same object.</summary>
    public event Action<T, T>? Updated;

    /// <summary>Raised for an object that is gone (its last known state).</summary>
    public event Action<T>? Deleted;

    /// <summary>
    /// Subscribes handlers to an informer that others may already be running, as client-go's
    /// <c>AddEventHandler</c> does: <paramref name="added"/> is first called for every object in the
    /// cache, then the handlers follow the changes, with no change missed or seen twice in between.
    /// </summary>
    public void AddEventHandlers(Action<T>? added, Action<T, T>? updated, Action<T>? deleted)
    {
        lock (_handlers)
        {
            if (added is not null)
            {
                foreach (var item in Cache.List())
                {
                    added(item);
                }
            }

            Added += added;
            Updated += updated;
            Deleted += deleted;
        }
    }

    /// <summary>The local cache.</summary>
    public ObjectCache<T> Cache { get; } = new();

    /// <summary>Whether the first list has been applied.</summary>
    public bool HasSynced => _synced.Task.IsCompleted;

    /// <summary>The resourceVersion the cache reflects.</summary>
    public string? ResourceVersion { get; private set; }

    /// <summary>Waits until the first list has been applied.</summary>
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <summary>Lists and watches until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = _options.InitialBackoff;
        using var resync = _options.ResyncPeriod is { } period
            ? _timeProvider.CreateTimer(_ => Resync(), null, period, period)
            : null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (ResourceVersion is null)
                {
                    await RelistAsync(cancellationToken).ConfigureAwait(false);
                }

                var watch = new WatchOptions
                {
                    ResourceVersion = ResourceVersion,
                    LabelSelector = _options.LabelSelector,
                    FieldSelector = _options.FieldSelector,
                    AllowBookmarks = true,
                };
                await foreach (var evt in _client.WatchAsync<T>(_options.Namespace, watch, cancellationToken).ConfigureAwait(false))
                {
                    Apply(evt);
                    backoff = _options.InitialBackoff;
                }

                // The server ended the watch (its timeout): resume from where it stopped.
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (GoneException ex)
            {
                LogWatchTooOld(typeof(T).Name, ex.Message);
                ResourceVersion = null;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or IOException or State.StoreUnavailableException or State.WatchFellBehindException or State.StoreClosedException)
            {
                if (ex is State.WatchFellBehindException)
                {
                    ResourceVersion = null;
                }

                LogWatchBroke(ex, typeof(T).Name, backoff);
                try
                {
                    await Task.Delay(backoff, _timeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
            }
        }
    }

    private async Task RelistAsync(CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? continueToken = null;
        string resourceVersion;
        do
        {
            var page = await _client.ListAsync<T>(_options.Namespace, new ListOptions
            {
                LabelSelector = _options.LabelSelector,
                FieldSelector = _options.FieldSelector,
                Limit = _options.PageSize,
                Continue = continueToken,
            }, cancellationToken).ConfigureAwait(false);
            lock (_handlers)
            {
                foreach (var item in page.Items)
                {
                    seen.Add(ObjectCache<T>.KeyOf(item));
                    Upsert(item);
                }
            }

            continueToken = page.Continue;
            resourceVersion = page.ResourceVersion;
        }
        while (continueToken is not null);

        lock (_handlers)
        {
            foreach (var key in Cache.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                if (Cache.Remove(key) is { } gone)
                {
                    Deleted?.Invoke(gone);
                }
            }
        }

        ResourceVersion = resourceVersion;
        _synced.TrySetResult();
    }

    private void Apply(ObjectEvent<T> evt)
    {
        lock (_handlers)
        {
            ApplyLocked(evt);
        }
    }

    private void ApplyLocked(ObjectEvent<T> evt)
    {
        ResourceVersion = evt.Object.Metadata?.ResourceVersion ?? ResourceVersion;
        switch (evt.Type)
        {
            case WatchEventType.Added or WatchEventType.Modified:
                Upsert(evt.Object);
                break;
            case WatchEventType.Deleted:
                if (Cache.Remove(ObjectCache<T>.KeyOf(evt.Object)) is { } old)
                {
                    Deleted?.Invoke(evt.Object.Metadata?.ResourceVersion is null ? old : evt.Object);
                }

                break;
        }
    }

    private void Upsert(T obj)
    {
        var old = Cache.Put(obj);
        if (old is null)
        {
            Added?.Invoke(obj);
        }
        else if (old.Metadata.ResourceVersion != obj.Metadata.ResourceVersion)
        {
            Updated?.Invoke(old, obj);
        }
    }

    private void Resync()
    {
        lock (_handlers)
        {
            foreach (var item in Cache.List())
            {
                Updated?.Invoke(item, item);
            }
        }
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "The {Kind} watch is too old ({Message}); listing again")]
    private partial void LogWatchTooOld(string kind, string message);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "The {Kind} watch broke; watching again in {Backoff}")]
    private partial void LogWatchBroke(Exception ex, string kind, TimeSpan backoff);
}
