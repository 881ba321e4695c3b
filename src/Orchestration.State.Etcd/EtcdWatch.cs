using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Grpc.Core;
using EtcdPb = Etcdserverpb;

namespace Orchestration.State.Etcd;

/// <summary>
/// An etcd watch stream pumped into a bounded buffer. The buffer never blocks the stream: when the
/// reader lets it fill, the watch fails with <see cref="WatchFellBehindException"/>.
/// </summary>
internal sealed class EtcdWatch : IStateWatch
{
    private readonly AsyncDuplexStreamingCall<EtcdPb.WatchRequest, EtcdPb.WatchResponse> _call;
    private readonly Channel<StateEvent> _events;
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<EtcdWatch> _onDispose;
    private readonly int _capacity;
    private Task _pump = Task.CompletedTask;
    private long _lastRevision;

    private EtcdWatch(AsyncDuplexStreamingCall<EtcdPb.WatchRequest, EtcdPb.WatchResponse> call, long afterRevision, int capacity, Action<EtcdWatch> onDispose)
    {
        _call = call;
        AfterRevision = afterRevision;
        _lastRevision = afterRevision;
        _capacity = capacity;
        _onDispose = onDispose;
        _events = Channel.CreateBounded<StateEvent>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true });
    }

    public long AfterRevision { get; }

    public static async Task<EtcdWatch> OpenAsync(EtcdPb.Watch.WatchClient client, WatchRequest request, long afterRevision, int capacity, Action<EtcdWatch> onDispose, CancellationToken cancellationToken)
    {
        var call = client.Watch();
        var watch = new EtcdWatch(call, afterRevision, capacity, onDispose);
        var create = new EtcdPb.WatchCreateRequest
        {
            Key = EtcdConversions.Bytes(request.Key),
            StartRevision = afterRevision + 1,
            PrevKv = true,
        };
        if (request.Prefix)
        {
            create.Key = request.Key.Length == 0 ? Google.Protobuf.ByteString.CopyFrom(0) : create.Key;
            create.RangeEnd = EtcdConversions.PrefixEnd(request.Key);
        }

        try
        {
            await call.RequestStream.WriteAsync(new EtcdPb.WatchRequest { CreateRequest = create }, cancellationToken).ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false) || !call.ResponseStream.Current.Created)
            {
                throw new StoreUnavailableException("etcd did not confirm the watch.");
            }
        }
        catch
        {
            call.Dispose();
            throw;
        }

        watch._pump = Task.Run(watch.PumpAsync, CancellationToken.None);
        return watch;
    }

    public async IAsyncEnumerable<StateEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _events.Reader;
        while (true)
        {
            bool more;
            try
            {
                more = await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException closed) when (closed.InnerException is not null)
            {
                ExceptionDispatchInfo.Throw(closed.InnerException);
                throw;
            }

            if (!more)
            {
                throw new ObjectDisposedException(nameof(IStateWatch), "the watch was disposed.");
            }

            while (reader.TryRead(out var evt))
            {
                yield return evt;
            }
        }
    }

    /// <summary>Ends the watch with an error the reader will see.</summary>
    public void Fail(Exception error)
    {
        _events.Writer.TryComplete(error);
        _stop.Cancel();
    }

    public async ValueTask DisposeAsync()
    {
        _events.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        _call.Dispose();
        try
        {
            await _pump.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _onDispose(this);
        _stop.Dispose();
    }

    private async Task PumpAsync()
    {
        try
        {
            while (await _call.ResponseStream.MoveNext(_stop.Token).ConfigureAwait(false))
            {
                var response = _call.ResponseStream.Current;
                if (response.Canceled)
                {
                    Fail(response.CompactRevision > 0
                        ? new CompactedException(_lastRevision, response.CompactRevision)
                        : new StoreUnavailableException($"etcd cancelled the watch: {response.CancelReason}"));
                    return;
                }

                foreach (var change in response.Events)
                {
                    var evt = change.Type == Mvccpb.Event.Types.EventType.Delete
                        ? new StateEvent(StateEventType.Delete, new StateKeyValue { Key = change.Kv.Key.ToStringUtf8(), ModRevision = change.Kv.ModRevision }, EtcdConversions.ToStateKeyValue(change.PrevKv))
                        : new StateEvent(StateEventType.Put, EtcdConversions.ToStateKeyValue(change.Kv)!, change.Kv.Version == 1 ? null : EtcdConversions.ToStateKeyValue(change.PrevKv));
                    if (!_events.Writer.TryWrite(evt))
                    {
                        Fail(new WatchFellBehindException(_lastRevision, evt.Revision, $"more than {_capacity} events were left unread"));
                        return;
                    }

                    _lastRevision = evt.Revision;
                }
            }

            Fail(new StoreUnavailableException("etcd closed the watch stream."));
        }
        catch (RpcException ex) when (_stop.IsCancellationRequested || ex.StatusCode == StatusCode.Cancelled)
        {
            Fail(new StoreClosedException("the watch was stopped."));
        }
        catch (OperationCanceledException)
        {
            Fail(new StoreClosedException("the watch was stopped."));
        }
        catch (RpcException ex)
        {
            Fail(new StoreUnavailableException($"the etcd watch stream broke: {ex.Status.Detail}", ex));
        }
    }
}
