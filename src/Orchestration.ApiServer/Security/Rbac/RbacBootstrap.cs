using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Security.Rbac;

/// <summary>
/// Reconciles <see cref="DefaultRbacPolicy"/> at start, as kube-apiserver's RBAC post-start hook
/// does: a missing default role or binding is created; one that is there gets the rules and
/// subjects it lacks, unless its <c>rbac.authorization.kubernetes.io/autoupdate</c> annotation is
/// <c>"false"</c>; what an administrator added is kept. Every API server of a cluster does it;
/// a conflict with another one's write is tried again. A store that is not reachable yet is
/// waited for.
/// </summary>
public sealed partial class RbacBootstrap(ObjectRegistry registry, TimeProvider timeProvider, ILogger<RbacBootstrap> logger) : BackgroundService
{
    private readonly LocalClusterClient _client = new(registry);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the default policy is in place.</summary>
    public Task Completion => _done.Task;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var role in DefaultRbacPolicy.ClusterRoles())
                {
                    await ReconcileAsync(role, Merge, stoppingToken).ConfigureAwait(false);
                }

                foreach (var binding in DefaultRbacPolicy.ClusterRoleBindings())
                {
                    await ReconcileAsync(binding, Merge, stoppingToken).ConfigureAwait(false);
                }

                LogReconciled(DefaultRbacPolicy.ClusterRoles().Count, DefaultRbacPolicy.ClusterRoleBindings().Count);
                _done.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is State.StoreUnavailableException or ClusterApiException && !stoppingToken.IsCancellationRequested)
            {
                LogRetrying(ex, delay);
                await Task.Delay(delay, timeProvider, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    private async Task ReconcileAsync<T>(T wanted, Func<T, T, bool> merge, CancellationToken cancellationToken)
        where T : class, k8s.IKubernetesObject<V1ObjectMeta>
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            T current;
            try
            {
                current = await _client.GetAsync<T>(null, wanted.Metadata.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                try
                {
                    await _client.CreateAsync(wanted, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (AlreadyExistsException)
                {
                    continue;
                }
            }

            if (current.Metadata.Annotations?.TryGetValue(DefaultRbacPolicy.AutoUpdateAnnotation, out var auto) == true && auto == "false")
            {
                return;
            }

            if (!merge(current, wanted))
            {
                return;
            }

            try
            {
                await _client.UpdateAsync(current, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ConflictException)
            {
            }
        }
    }

    // Adds the default rules a role lacks (and its aggregation rule); true when something changed.
    private static bool Merge(V1ClusterRole current, V1ClusterRole wanted)
    {
        var changed = false;
        if (wanted.AggregationRule is not null && current.AggregationRule is null)
        {
            current.AggregationRule = wanted.AggregationRule;
            changed = true;
        }

        var have = (current.Rules ?? []).Select(Json).ToHashSet(StringComparer.Ordinal);
        foreach (var rule in wanted.Rules ?? [])
        {
            if (have.Add(Json(rule)))
            {
                current.Rules = [.. current.Rules ?? [], rule];
                changed = true;
            }
        }

        return changed;
    }

    // Adds the default subjects a binding lacks; its roleRef cannot change and is left as it is.
    private static bool Merge(V1ClusterRoleBinding current, V1ClusterRoleBinding wanted)
    {
        var changed = false;
        foreach (var subject in wanted.Subjects ?? [])
        {
            if (current.Subjects?.Any(s => s.Kind == subject.Kind && s.Name == subject.Name && s.NamespaceProperty == subject.NamespaceProperty) != true)
            {
                current.Subjects = [.. current.Subjects ?? [], subject];
                changed = true;
            }
        }

        return changed;
    }

    private static string Json(V1PolicyRule rule) => JsonSerializer.Serialize(rule);

    [LoggerMessage(EventId = 2030, Level = LogLevel.Information, Message = "RBAC: the {Roles} default ClusterRoles and {Bindings} ClusterRoleBindings are in place")]
    private partial void LogReconciled(int roles, int bindings);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Warning, Message = "RBAC: could not reconcile the default roles yet; trying again in {Delay}")]
    private partial void LogRetrying(Exception ex, TimeSpan delay);
}
