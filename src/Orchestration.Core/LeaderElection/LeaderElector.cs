using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;

namespace Orchestration.LeaderElection;

/// <summary>
/// Leader election on a <c>coordination.k8s.io/v1</c> Lease, as Kubernetes components do it: a
/// candidate takes the Lease when it is free or expired (compare-and-swap on its resourceVersion),
/// the leader renews it every retry period, and leading stops at once when the Lease is seen in
/// another holder's hands or could not be renewed within the renew deadline.
/// </summary>
public sealed partial class LeaderElector(IClusterClient client, LeaderElectionOptions options, TimeProvider? timeProvider = null, ILogger<LeaderElector>? logger = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>Whether this candidate leads now.</summary>
    public bool IsLeader { get; private set; }

    /// <summary>
    /// Competes until cancelled; while leading, runs <paramref name="lead"/> with a token that is
    /// cancelled the moment leadership is lost, then competes again.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task> lead, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lead);
        while (!cancellationToken.IsCancellationRequested)
        {
            bool acquired;
            try
            {
                acquired = await TryAcquireOrRenewAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or State.StoreUnavailableException)
            {
                // The API is not there yet (or the Lease's namespace is not): a candidate waits and tries again.
                LogAcquireFailed(ex, options.LeaseName);
                acquired = false;
            }

            if (!acquired)
            {
                await DelayAsync(options.RetryPeriod, cancellationToken).ConfigureAwait(false);
                continue;
            }

            IsLeader = true;
            LogLeading(options.Identity, options.LeaseNamespace, options.LeaseName);
            using var leading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var work = Task.Run(() => lead(leading.Token), CancellationToken.None);
            await RenewWhileLeadingAsync(work, leading.Token).ConfigureAwait(false);
            IsLeader = false;
            await leading.CancelAsync().ConfigureAwait(false);
            try
            {
                await work.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            LogStoppedLeading(options.Identity, options.LeaseNamespace, options.LeaseName);
        }
    }

    private async Task RenewWhileLeadingAsync(Task work, CancellationToken leading)
    {
        var lastRenew = _time.GetUtcNow();
        while (!leading.IsCancellationRequested && !work.IsCompleted)
        {
            await DelayAsync(options.RetryPeriod, leading).ConfigureAwait(false);
            if (leading.IsCancellationRequested)
            {
                return;
            }

            try
            {
                if (await TryAcquireOrRenewAsync(leading).ConfigureAwait(false))
                {
                    lastRenew = _time.GetUtcNow();
                    continue;
                }

                // Someone else holds it now: stop at once.
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or State.StoreUnavailableException)
            {
                LogRenewFailed(ex, options.LeaseName);
                if (_time.GetUtcNow() - lastRenew >= options.RenewDeadline)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Takes the lease if it is free, expired or already ours; false if another holds it.</summary>
    private async Task<bool> TryAcquireOrRenewAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        V1Lease lease;
        try
        {
            lease = await client.GetAsync<V1Lease>(options.LeaseNamespace, options.LeaseName, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            try
            {
                await client.CreateAsync(new V1Lease
                {
                    Metadata = new V1ObjectMeta { Name = options.LeaseName, NamespaceProperty = options.LeaseNamespace },
                    Spec = new V1LeaseSpec
                    {
                        HolderIdentity = options.Identity,
                        LeaseDurationSeconds = (int)options.LeaseDuration.TotalSeconds,
                        AcquireTime = now,
                        RenewTime = now,
                        LeaseTransitions = 0,
                    },
                }, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (AlreadyExistsException)
            {
                return false;
            }
        }

        lease.Spec ??= new V1LeaseSpec();
        var holder = lease.Spec.HolderIdentity;
        var mine = holder == options.Identity;
        var duration = TimeSpan.FromSeconds(lease.Spec.LeaseDurationSeconds ?? (int)options.LeaseDuration.TotalSeconds);
        var expired = lease.Spec.RenewTime is not { } renewed || renewed.ToUniversalTime() + duration <= now;
        if (!mine && !string.IsNullOrEmpty(holder) && !expired)
        {
            return false;
        }

        if (!mine)
        {
            lease.Spec.HolderIdentity = options.Identity;
            lease.Spec.AcquireTime = now;
            lease.Spec.LeaseTransitions = (lease.Spec.LeaseTransitions ?? 0) + 1;
            lease.Spec.LeaseDurationSeconds = (int)options.LeaseDuration.TotalSeconds;
        }

        lease.Spec.RenewTime = now;
        try
        {
            // The resourceVersion makes this a compare-and-swap: of two candidates, one wins.
            await client.UpdateAsync(lease, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConflictException)
        {
            return false;
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 1310, Level = LogLevel.Warning, Message = "Acquiring {Lease} failed")]
    private partial void LogAcquireFailed(Exception ex, string lease);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Information, Message = "{Identity} leads {Namespace}/{Lease}")]
    private partial void LogLeading(string identity, string @namespace, string lease);

    [LoggerMessage(EventId = 1312, Level = LogLevel.Information, Message = "{Identity} stopped leading {Namespace}/{Lease}")]
    private partial void LogStoppedLeading(string identity, string @namespace, string lease);

    [LoggerMessage(EventId = 1313, Level = LogLevel.Warning, Message = "Renewing {Lease} failed")]
    private partial void LogRenewFailed(Exception ex, string lease);
}
