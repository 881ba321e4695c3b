using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers.Rbac;

/// <summary>
/// Fills in aggregated ClusterRoles, as kube-controller-manager's clusterrole-aggregation
/// controller does: a ClusterRole with an <c>aggregationRule</c> gets the rules of every ClusterRole
/// whose labels one of its <c>clusterRoleSelectors</c> matches (in name order, each rule once), so
/// that a new <c>aggregate-to-view</c> role widens <c>view</c> without anyone editing it. Any
/// ClusterRole change reconciles every aggregated one.
/// </summary>
public sealed partial class ClusterRoleAggregationController(IClusterClient client, ControllerContext context, ILogger<ClusterRoleAggregationController> logger) : IController
{
    /// <summary>Registers the controller: every aggregated ClusterRole again when any ClusterRole changes.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1ClusterRole>().Watches<V1ClusterRole>((informers, _) => informers.For<V1ClusterRole>().Cache.List(null)
            .Where(r => r.AggregationRule is not null)
            .Select(r => new ObjectKey(null, r.Metadata.Name)));
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        V1ClusterRole role;
        try
        {
            role = await client.GetAsync<V1ClusterRole>(null, key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }

        if (role.AggregationRule?.ClusterRoleSelectors is not { } selectors)
        {
            return ReconcileResult.Done;
        }

        var all = context.Current?.For<V1ClusterRole>().Cache.List(null) ?? (await client.ListAsync<V1ClusterRole>(null, null, cancellationToken).ConfigureAwait(false)).Items;
        var parsed = selectors.Select(s => LabelSelector.Parse(LabelSelectors.ToString(s))).ToList();
        var rules = new List<V1PolicyRule>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in all.Where(r => r.Metadata.Name != role.Metadata.Name).OrderBy(r => r.Metadata.Name, StringComparer.Ordinal))
        {
            if (!parsed.Any(p => p.Matches(source.Metadata.Labels)))
            {
                continue;
            }

            foreach (var rule in source.Rules ?? [])
            {
                if (seen.Add(JsonSerializer.Serialize(rule)))
                {
                    rules.Add(rule);
                }
            }
        }

        var current = (role.Rules ?? []).Select(r => JsonSerializer.Serialize(r)).ToList();
        if (current.SequenceEqual(rules.Select(r => JsonSerializer.Serialize(r))))
        {
            return ReconcileResult.Done;
        }

        role.Rules = rules;
        await client.UpdateAsync(role, cancellationToken).ConfigureAwait(false);
        LogAggregated(role.Metadata.Name, rules.Count);
        return ReconcileResult.Done;
    }

    [LoggerMessage(EventId = 1520, Level = LogLevel.Information, Message = "ClusterRole {Role} aggregates {Rules} rules")]
    private partial void LogAggregated(string role, int rules);
}
