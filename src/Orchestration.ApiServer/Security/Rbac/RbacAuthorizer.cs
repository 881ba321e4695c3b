using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Security.Authorization;
using Orchestration.Client;
using Orchestration.Informers;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Security.Rbac;

/// <summary>
/// Role-based access control, as kube-apiserver's RBAC authorizer: a request is allowed when a
/// ClusterRoleBinding, or a RoleBinding in the request's namespace, binds one of the user's names
/// (the user, its groups, its ServiceAccount) to a role with a rule that covers the verb, the API
/// group, the resource (and subresource) and the name, or the non-resource path. RBAC never denies:
/// what it does not allow is left to the next authorizer. Roles and bindings are read from informers
/// over the registry, kept in step by watches; until their first list the authorizer waits.
/// </summary>
public sealed class RbacAuthorizer(ObjectRegistry registry, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService, IAuthorizer, IRuleResolver
{
    private readonly InformerFactory _informers = new(new LocalClusterClient(registry), timeProvider, loggers);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public async ValueTask<AuthorizationDecision> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (!_synced.Task.IsCompleted)
        {
            await _synced.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var (binding, rules) in RulesOf(attributes.User, attributes.Namespace))
        {
            if (rules.Any(rule => Covers(rule, attributes)))
            {
                return AuthorizationDecision.Allowed($"RBAC: allowed by {binding}");
            }
        }

        return AuthorizationDecision.NoOpinion();
    }

    /// <inheritdoc />
    public (IReadOnlyList<ResourceRuleInfo> Resources, IReadOnlyList<NonResourceRuleInfo> NonResources, bool Incomplete) RulesFor(UserInfo user, string @namespace)
    {
        ArgumentNullException.ThrowIfNull(user);
        var resources = new List<ResourceRuleInfo>();
        var nonResources = new List<NonResourceRuleInfo>();
        foreach (var (_, rules) in RulesOf(user, @namespace ?? ""))
        {
            foreach (var rule in rules)
            {
                if (rule.NonResourceURLs is { Count: > 0 } urls)
                {
                    nonResources.Add(new NonResourceRuleInfo([.. rule.Verbs ?? []], [.. urls]));
                }
                else
                {
                    resources.Add(new ResourceRuleInfo([.. rule.Verbs ?? []], [.. rule.ApiGroups ?? []], [.. rule.Resources ?? []], [.. rule.ResourceNames ?? []]));
                }
            }
        }

        return (resources, nonResources, false);
    }

    /// <summary>Waits until the roles and bindings have been listed.</summary>
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var informers = new Task[]
        {
            _informers.For<V1Role>().WaitForSyncAsync(stoppingToken),
            _informers.For<V1ClusterRole>().WaitForSyncAsync(stoppingToken),
            _informers.For<V1RoleBinding>().WaitForSyncAsync(stoppingToken),
            _informers.For<V1ClusterRoleBinding>().WaitForSyncAsync(stoppingToken),
        };
        var running = _informers.RunAsync(stoppingToken);
        try
        {
            await Task.WhenAll(informers).ConfigureAwait(false);
            _synced.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _synced.TrySetCanceled(stoppingToken);
        }

        await running.ConfigureAwait(false);
    }

    // Every rule bound to the user: cluster-wide bindings first, then the namespace's, each with
    // the binding's description (for the reason of an allowed request).
    private IEnumerable<(string Binding, IList<V1PolicyRule> Rules)> RulesOf(UserInfo user, string @namespace)
    {
        var clusterRoles = _informers.For<V1ClusterRole>().Cache;
        foreach (var binding in _informers.For<V1ClusterRoleBinding>().Cache.List())
        {
            if (binding.Subjects?.Any(s => Binds(s, user, "")) == true && clusterRoles.Get(null, binding.RoleRef.Name) is { } role)
            {
                yield return ($"ClusterRoleBinding \"{binding.Metadata.Name}\" of ClusterRole \"{role.Metadata.Name}\"", role.Rules ?? []);
            }
        }

        if (@namespace.Length == 0)
        {
            yield break;
        }

        var roles = _informers.For<V1Role>().Cache;
        foreach (var binding in _informers.For<V1RoleBinding>().Cache.List(@namespace))
        {
            if (binding.Subjects?.Any(s => Binds(s, user, @namespace)) != true)
            {
                continue;
            }

            var rules = binding.RoleRef.Kind == "ClusterRole"
                ? clusterRoles.Get(null, binding.RoleRef.Name)?.Rules
                : roles.Get(@namespace, binding.RoleRef.Name)?.Rules;
            if (rules is not null)
            {
                yield return ($"RoleBinding \"{binding.Metadata.Name}\" of {binding.RoleRef.Kind} \"{binding.RoleRef.Name}\" in namespace \"{@namespace}\"", rules);
            }
        }
    }

    private static bool Binds(Rbacv1Subject subject, UserInfo user, string bindingNamespace) => subject.Kind switch
    {
        "User" => subject.Name == user.Name,
        "Group" => user.InGroup(subject.Name),
        "ServiceAccount" => user.Name == $"system:serviceaccount:{(string.IsNullOrEmpty(subject.NamespaceProperty) ? bindingNamespace : subject.NamespaceProperty)}:{subject.Name}",
        _ => false,
    };

    /// <summary>Whether <paramref name="rule"/> covers the request, by RBAC's matching rules.</summary>
    internal static bool Covers(V1PolicyRule rule, AuthorizationAttributes attributes)
    {
        if (!Has(rule.Verbs, attributes.Verb))
        {
            return false;
        }

        if (!attributes.IsResourceRequest)
        {
            return rule.NonResourceURLs?.Any(url => url == "*" || url == attributes.Path || (url.EndsWith('*') && attributes.Path.StartsWith(url[..^1], StringComparison.Ordinal))) == true;
        }

        if (!Has(rule.ApiGroups, attributes.ApiGroup))
        {
            return false;
        }

        var resources = rule.Resources ?? [];
        var combined = attributes.ResourceWithSubresource;
        var resourceMatches = resources.Any(r => r == "*" || r == combined
            || (attributes.Subresource.Length > 0 && (r == $"*/{attributes.Subresource}" || r == $"{attributes.Resource}/*")));
        if (!resourceMatches)
        {
            return false;
        }

        // resourceNames limit a rule to named objects: a request without a name (list, create) is not covered.
        return rule.ResourceNames is not { Count: > 0 } names || (attributes.Name.Length > 0 && names.Contains(attributes.Name));
    }

    private static bool Has(IList<string>? values, string value) => values is not null && (values.Contains("*") || values.Contains(value));
}
