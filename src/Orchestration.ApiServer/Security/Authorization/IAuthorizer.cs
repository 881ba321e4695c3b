namespace Orchestration.ApiServer.Security.Authorization;

/// <summary>What an authorizer says of a request.</summary>
public enum AuthorizationVerdict
{
    /// <summary>The authorizer has nothing to say: the next one decides (none left: denied).</summary>
    NoOpinion,

    /// <summary>Allowed.</summary>
    Allow,

    /// <summary>Denied, whatever the authorizers after this one would say.</summary>
    Deny,
}

/// <summary>A verdict and why.</summary>
/// <param name="Verdict">Allow, deny or no opinion.</param>
/// <param name="Reason">Why, for a review's status and the audit log; may be empty.</param>
public readonly record struct AuthorizationDecision(AuthorizationVerdict Verdict, string Reason = "")
{
    /// <summary>Allowed.</summary>
    public static AuthorizationDecision Allowed(string reason = "") => new(AuthorizationVerdict.Allow, reason);

    /// <summary>No opinion.</summary>
    public static AuthorizationDecision NoOpinion(string reason = "") => new(AuthorizationVerdict.NoOpinion, reason);
}

/// <summary>
/// Decides whether a request may proceed (kube-apiserver's authorizer): RBAC, the Node authorizer,
/// or one of the user's own. Authorizers run in registration order; the first that allows or denies
/// decides; members of <c>system:masters</c> are allowed before any is asked.
/// </summary>
public interface IAuthorizer
{
    /// <summary>Decides on <paramref name="attributes"/>.</summary>
    ValueTask<AuthorizationDecision> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken);
}

/// <summary>A resource rule a user holds in a namespace (what a SelfSubjectRulesReview lists).</summary>
/// <param name="Verbs">The verbs.</param>
/// <param name="ApiGroups">The API groups.</param>
/// <param name="Resources">The resources (<c>pods</c>, <c>pods/log</c>, <c>*</c>).</param>
/// <param name="ResourceNames">The names it is limited to; empty for all.</param>
public sealed record ResourceRuleInfo(IReadOnlyList<string> Verbs, IReadOnlyList<string> ApiGroups, IReadOnlyList<string> Resources, IReadOnlyList<string> ResourceNames);

/// <summary>A non-resource rule a user holds.</summary>
/// <param name="Verbs">The verbs.</param>
/// <param name="NonResourceUrls">The paths (<c>/healthz</c>, <c>/apis/*</c>).</param>
public sealed record NonResourceRuleInfo(IReadOnlyList<string> Verbs, IReadOnlyList<string> NonResourceUrls);

/// <summary>Lists the rules an authorizer would apply to a user in a namespace (for <c>kubectl auth can-i --list</c>).</summary>
public interface IRuleResolver
{
    /// <summary>The rules <paramref name="user"/> holds in <paramref name="namespace"/> (cluster-wide ones included); incomplete when some could not be resolved.</summary>
    (IReadOnlyList<ResourceRuleInfo> Resources, IReadOnlyList<NonResourceRuleInfo> NonResources, bool Incomplete) RulesFor(UserInfo user, string @namespace);
}
