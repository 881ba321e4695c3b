using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using static Orchestration.State.Etcd.EtcdConversions;
using EtcdPb = Etcdserverpb;

namespace Orchestration.State.Etcd;

/// <summary>
/// The state store over a real etcd cluster (etcd v3 API, through the dotnet-etcd protocol
/// client): the store for highly available masters. The contract maps one to one onto etcd's own
/// revisions, transactions, watches and leases; etcd's durability is the cluster's.
/// </summary>
/// <remarks>
/// Compare-and-swap writes are etcd transactions that compare the key's create or mod revision and
/// read the key back when the comparison fails, so a conflict carries the current value. A lease's
/// TTL is rounded up to whole seconds, etcd's unit; when it ends, etcd deletes its keys in one
/// transaction, so those deletes share one revision.
/// </remarks>
public sealed class EtcdStateStore : IStateStore
{
    private readonly EtcdStateStoreOptions _options;
    private readonly GrpcChannel _channel;
    private readonly EtcdPb.KV.KVClient _kv;
    private readonly EtcdPb.Watch.WatchClient _watch;
    private readonly EtcdPb.Lease.LeaseClient _lease;
    private readonly ConcurrentDictionary<EtcdWatch, byte> _watches = new();
    private readonly string _endpoints;
    private volatile bool _closed;

    /// <summary>Connects (lazily) to the cluster at <see cref="EtcdStateStoreOptions.Endpoints"/>.</summary>
    public EtcdStateStore(EtcdStateStoreOptions options)
    {
        _options = options;
        _channel = EtcdChannelFactory.Create(options.Endpoints);
        _kv = new EtcdPb.KV.KVClient(_channel);
        _watch = new EtcdPb.Watch.WatchClient(_channel);
        _lease = new EtcdPb.Lease.LeaseClient(_channel);
        _endpoints = string.Join(", ", options.Endpoints);
    }

    /// <summary>Connects with configured options.</summary>
    public EtcdStateStore(IOptions<EtcdStateStoreOptions> options)
        : this(options.Value)
    {
    }

    /// <inheritdoc />
    public async ValueTask<StateKeyValue?> GetAsync(string key, long revision = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateKey(key, _options.MaxKeyBytes);
        StateRequestValidation.ValidateRevision(revision);
        var response = await CallAsync(o => _kv.RangeAsync(new EtcdPb.RangeRequest { Key = Bytes(key), Revision = revision }, o).ResponseAsync, cancellationToken, revision).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : ToStateKeyValue(response.Kvs[0]);
    }

    /// <inheritdoc />
    public async ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateRange(request, _options.MaxKeyBytes);
        var start = request.StartAfter is { } after && string.CompareOrdinal(after, request.Prefix) >= 0 ? after + "\0" : request.Prefix;
        var range = new EtcdPb.RangeRequest
        {
            Key = start.Length == 0 ? ByteString.CopyFrom(0) : Bytes(start),
            RangeEnd = PrefixEnd(request.Prefix),
            Revision = request.Revision,
            Limit = request.Limit,
            SortOrder = EtcdPb.RangeRequest.Types.SortOrder.Ascend,
            SortTarget = EtcdPb.RangeRequest.Types.SortTarget.Key,
        };
        var response = await CallAsync(o => _kv.RangeAsync(range, o).ResponseAsync, cancellationToken, request.Revision).ConfigureAwait(false);
        var items = response.Kvs.Select(kv => ToStateKeyValue(kv)!).ToList();
        return new RangeResult(items, request.Revision == 0 ? response.Header.Revision : request.Revision, response.More);
    }

    /// <inheritdoc />
    public ValueTask<WriteResult> CreateAsync(string key, ReadOnlyMemory<byte> value, long lease = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateWrite(key, value, lease, _options);
        var condition = new EtcdPb.Compare { Key = Bytes(key), Target = EtcdPb.Compare.Types.CompareTarget.Create, Result = EtcdPb.Compare.Types.CompareResult.Equal, CreateRevision = 0 };
        return PutIfAsync(key, value, lease, condition, null, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<WriteResult> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedModRevision, long lease = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateWrite(key, value, lease, _options);
        StateRequestValidation.ValidateUpdatePrecondition(expectedModRevision);

        var condition = new EtcdPb.Compare { Key = Bytes(key), Target = EtcdPb.Compare.Types.CompareTarget.Mod, Result = EtcdPb.Compare.Types.CompareResult.Equal, ModRevision = expectedModRevision };
        return PutIfAsync(key, value, lease, condition, expectedModRevision, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<WriteResult> DeleteAsync(string key, long expectedModRevision = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateKey(key, _options.MaxKeyBytes);
        StateRequestValidation.ValidateDeletePrecondition(expectedModRevision);

        var txn = new EtcdPb.TxnRequest();
        txn.Compare.Add(expectedModRevision == 0
            ? new EtcdPb.Compare { Key = Bytes(key), Target = EtcdPb.Compare.Types.CompareTarget.Version, Result = EtcdPb.Compare.Types.CompareResult.Greater, Version = 0 }
            : new EtcdPb.Compare { Key = Bytes(key), Target = EtcdPb.Compare.Types.CompareTarget.Mod, Result = EtcdPb.Compare.Types.CompareResult.Equal, ModRevision = expectedModRevision });
        txn.Success.Add(new EtcdPb.RequestOp { RequestDeleteRange = new EtcdPb.DeleteRangeRequest { Key = Bytes(key), PrevKv = true } });
        txn.Failure.Add(new EtcdPb.RequestOp { RequestRange = new EtcdPb.RangeRequest { Key = Bytes(key) } });
        var response = await CallAsync(o => _kv.TxnAsync(txn, o).ResponseAsync, cancellationToken).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            return Conflict(response);
        }

        var deleted = response.Responses[0].ResponseDeleteRange;
        return new WriteResult { Succeeded = true, Revision = response.Header.Revision, Previous = deleted.PrevKvs.Count > 0 ? ToStateKeyValue(deleted.PrevKvs[0]) : null };
    }

    /// <inheritdoc />
    public async ValueTask<IStateWatch> WatchAsync(WatchRequest request, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateWatch(request, _options.MaxKeyBytes);

        long after;
        if (request.AfterRevision is { } requested)
        {
            // etcd accepts watches from the future and reports compaction only after the watch
            // is created; a read at the same revision answers both questions up front.
            await ReadRevisionAsync(requested, cancellationToken).ConfigureAwait(false);
            if (requested == 0 && await ProbeCompactRevisionAsync(cancellationToken).ConfigureAwait(false) is > 0 and var compacted)
            {
                throw new CompactedException(0, compacted);
            }

            after = requested;
        }
        else
        {
            after = await ReadRevisionAsync(0, cancellationToken).ConfigureAwait(false);
        }

        ThrowIfClosed();
        try
        {
            var watch = await EtcdWatch.OpenAsync(_watch, request, after, (int)Math.Min(_options.MaxWatchLag, int.MaxValue), w => _watches.TryRemove(w, out _), cancellationToken).ConfigureAwait(false);
            _watches.TryAdd(watch, 0);
            return watch;
        }
        catch (RpcException ex)
        {
            throw Translate(ex, after, 0);
        }
    }

    /// <inheritdoc />
    public async ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateRevision(revision);
        try
        {
            await CallAsync(o => _kv.CompactAsync(new EtcdPb.CompactionRequest { Revision = revision, Physical = true }, o).ResponseAsync, cancellationToken, revision).ConfigureAwait(false);
        }
        catch (CompactedException)
        {
            // Already compacted at or past that revision: nothing to do, as the contract says.
        }
    }

    /// <inheritdoc />
    public async ValueTask<StateStoreStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var revision = await ReadRevisionAsync(0, cancellationToken).ConfigureAwait(false);
        return new StateStoreStatus(revision, await ProbeCompactRevisionAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async ValueTask<StateLease> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateTtl(ttl);
        var seconds = (long)Math.Ceiling(ttl.TotalSeconds);
        var response = await CallAsync(o => _lease.LeaseGrantAsync(new EtcdPb.LeaseGrantRequest { TTL = seconds }, o).ResponseAsync, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new StoreUnavailableException($"etcd refused the lease: {response.Error}");
        }

        return new StateLease(response.ID, TimeSpan.FromSeconds(response.TTL));
    }

    /// <inheritdoc />
    public async ValueTask<TimeSpan> KeepAliveLeaseAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        try
        {
            using var call = _lease.LeaseKeepAlive(deadline: DateTime.UtcNow + _options.RequestTimeout, cancellationToken: cancellationToken);
            await call.RequestStream.WriteAsync(new EtcdPb.LeaseKeepAliveRequest { ID = leaseId }, cancellationToken).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                throw new StoreUnavailableException($"etcd ({_endpoints}) closed the keep-alive stream without an answer.");
            }

            var ttl = call.ResponseStream.Current.TTL;
            return ttl > 0 ? TimeSpan.FromSeconds(ttl) : throw new LeaseNotFoundException(leaseId);
        }
        catch (RpcException ex)
        {
            throw Translate(ex, 0, leaseId);
        }
    }

    /// <inheritdoc />
    public async ValueTask RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        await CallAsync(o => _lease.LeaseRevokeAsync(new EtcdPb.LeaseRevokeRequest { ID = leaseId }, o).ResponseAsync, cancellationToken, lease: leaseId).ConfigureAwait(false);
    }

    /// <summary>Ends every watch and closes the connection.</summary>
    public ValueTask DisposeAsync()
    {
        if (_closed)
        {
            return ValueTask.CompletedTask;
        }

        _closed = true;
        foreach (var watch in _watches.Keys)
        {
            watch.Fail(new StoreClosedException("the store was closed."));
        }

        _channel.Dispose();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<WriteResult> PutIfAsync(string key, ReadOnlyMemory<byte> value, long lease, EtcdPb.Compare condition, long? expected, CancellationToken cancellationToken)
    {
        var txn = new EtcdPb.TxnRequest();
        txn.Compare.Add(condition);
        txn.Success.Add(new EtcdPb.RequestOp { RequestPut = new EtcdPb.PutRequest { Key = Bytes(key), Value = ByteString.CopyFrom(value.Span), Lease = lease, PrevKv = expected is not null } });
        txn.Failure.Add(new EtcdPb.RequestOp { RequestRange = new EtcdPb.RangeRequest { Key = Bytes(key) } });
        var response = await CallAsync(o => _kv.TxnAsync(txn, o).ResponseAsync, cancellationToken, lease: lease).ConfigureAwait(false);
        if (!response.Succeeded)
        {
            return Conflict(response);
        }

        var revision = response.Header.Revision;
        var previous = expected is null ? null : ToStateKeyValue(response.Responses[0].ResponsePut.PrevKv);
        var written = new StateKeyValue
        {
            Key = key,
            Value = value.ToArray(),
            CreateRevision = previous?.CreateRevision ?? revision,
            ModRevision = revision,
            Version = (previous?.Version ?? 0) + 1,
            Lease = lease,
        };
        return new WriteResult { Succeeded = true, Revision = revision, Current = written, Previous = previous };
    }

    private static WriteResult Conflict(EtcdPb.TxnResponse response)
    {
        var range = response.Responses[0].ResponseRange;
        return new WriteResult { Succeeded = false, Revision = response.Header.Revision, Current = range.Kvs.Count > 0 ? ToStateKeyValue(range.Kvs[0]) : null };
    }

    /// <summary>The cluster's revision, or with a positive revision a check that it is readable.</summary>
    private async Task<long> ReadRevisionAsync(long revision, CancellationToken cancellationToken)
    {
        var response = await CallAsync(o => _kv.RangeAsync(new EtcdPb.RangeRequest { Key = ByteString.CopyFrom(0), Revision = revision, CountOnly = true }, o).ResponseAsync, cancellationToken, revision).ConfigureAwait(false);
        return response.Header.Revision;
    }

    /// <summary>
    /// etcd reports its compaction point only to a watch that starts before it: open one from
    /// revision 1 on a key nobody uses and read the answer.
    /// </summary>
    private async Task<long> ProbeCompactRevisionAsync(CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        using var call = _watch.Watch(cancellationToken: timeout.Token);
        try
        {
            await call.RequestStream.WriteAsync(new EtcdPb.WatchRequest { CreateRequest = new EtcdPb.WatchCreateRequest { Key = ByteString.CopyFrom(0), StartRevision = 1 } }, timeout.Token).ConfigureAwait(false);
            while (await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false))
            {
                var response = call.ResponseStream.Current;
                if (response.CompactRevision > 0)
                {
                    return response.CompactRevision;
                }

                if (response.Created)
                {
                    // Created without a compaction notice following at once: give etcd a moment,
                    // since it sends the notice from its sync loop.
                    var next = call.ResponseStream.MoveNext(timeout.Token);
                    var done = await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken)).ConfigureAwait(false);
                    if (done == next && await next.ConfigureAwait(false) && call.ResponseStream.Current.CompactRevision > 0)
                    {
                        return call.ResponseStream.Current.CompactRevision;
                    }

                    return 0;
                }
            }

            return 0;
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            throw Translate(ex, 0, 0);
        }
    }

    private async Task<T> CallAsync<T>(Func<CallOptions, Task<T>> call, CancellationToken cancellationToken, long revision = 0, long lease = 0)
    {
        ThrowIfClosed();
        try
        {
            return await call(new CallOptions(deadline: DateTime.UtcNow + _options.RequestTimeout, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.Status.Detail.Contains("required revision has been compacted", StringComparison.Ordinal))
        {
            throw new CompactedException(revision, await ProbeCompactRevisionAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (RpcException ex) when (ex.Status.Detail.Contains("future revision", StringComparison.Ordinal))
        {
            throw new FutureRevisionException(revision, await ReadRevisionAsync(0, cancellationToken).ConfigureAwait(false));
        }
        catch (RpcException ex)
        {
            throw Translate(ex, revision, lease);
        }
        catch (ObjectDisposedException ex)
        {
            throw new StoreClosedException("the store was closed.", ex);
        }
    }

    private Exception Translate(RpcException error, long revision, long lease)
    {
        var detail = error.Status.Detail;
        if (detail.Contains("lease not found", StringComparison.Ordinal))
        {
            return new LeaseNotFoundException(lease);
        }

        if (detail.Contains("request is too large", StringComparison.Ordinal))
        {
            return new InvalidStateRequestException("value", $"etcd refused the request as too large: {detail}");
        }

        if (_closed)
        {
            return new StoreClosedException("the store was closed.", error);
        }

        return error.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded
            ? new StoreUnavailableException($"etcd ({_endpoints}) did not answer: {detail}", error)
            : new StoreUnavailableException($"etcd ({_endpoints}) failed the request (revision {revision}): {error.StatusCode} {detail}", error);
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new StoreClosedException("the store was closed.");
        }
    }
}
