using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;

namespace Orchestration.ApiServer.Security.Authorization;

/// <summary>
/// The authorizer chain of the API server: members of <c>system:masters</c> are allowed outright;
/// otherwise each <see cref="IAuthorizer"/> in registration order is asked, the first that allows
/// or denies decides, and a request none allows is denied with kube-apiserver's 403.
/// </summary>
public sealed class RequestAuthorization(IEnumerable<IAuthorizer> authorizers)
{
    private readonly IAuthorizer[] _authorizers = [.. authorizers];

    /// <summary>The decision on <paramref name="attributes"/>: allowed, or denied (no opinion from every authorizer is a denial).</summary>
    public async ValueTask<AuthorizationDecision> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (attributes.User.InGroup(UserInfo.MastersGroup))
        {
            return AuthorizationDecision.Allowed("the system:masters group may do anything");
        }

        foreach (var authorizer in _authorizers)
        {
            var decision = await authorizer.AuthorizeAsync(attributes, cancellationToken).ConfigureAwait(false);
            if (decision.Verdict != AuthorizationVerdict.NoOpinion)
            {
                return decision;
            }
        }

        return new AuthorizationDecision(AuthorizationVerdict.Deny);
    }

    /// <summary>kube-apiserver's 403 for a denied request: <c>pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" in the namespace "default"</c>.</summary>
    public static ClusterApiException Forbidden(AuthorizationAttributes attributes, string reason = "")
    {
        ArgumentNullException.ThrowIfNull(attributes);
        var what = !attributes.IsResourceRequest
            ? $"User \"{attributes.User.Name}\" cannot {attributes.Verb} path \"{attributes.Path}\""
            : attributes.Namespace.Length > 0
                ? $"User \"{attributes.User.Name}\" cannot {attributes.Verb} resource \"{attributes.ResourceWithSubresource}\" in API group \"{attributes.ApiGroup}\" in the namespace \"{attributes.Namespace}\""
                : $"User \"{attributes.User.Name}\" cannot {attributes.Verb} resource \"{attributes.ResourceWithSubresource}\" in API group \"{attributes.ApiGroup}\" at the cluster scope";
        if (reason.Length > 0)
        {
            what += ": " + reason;
        }

        var qualified = attributes.ApiGroup.Length == 0 ? attributes.Resource : $"{attributes.Resource}.{attributes.ApiGroup}";
        var message = !attributes.IsResourceRequest
            ? $"forbidden: {what}"
            : attributes.Name.Length > 0 ? $"{qualified} \"{attributes.Name}\" is forbidden: {what}" : $"{qualified} is forbidden: {what}";
        var details = attributes.IsResourceRequest ? new V1StatusDetails { Name = attributes.Name.Length > 0 ? attributes.Name : null, Group = attributes.ApiGroup, Kind = attributes.Resource } : null;
        return new ClusterApiException(403, "Forbidden", message, details: details);
    }
}

/// <summary>Adds authorization to the API server's pipeline.</summary>
public static class RequestAuthorizationExtensions
{
    /// <summary>
    /// Authorizes every request an authenticator has put a user on (<see cref="UserInfo.Of"/>) with
    /// the <see cref="RequestAuthorization"/> chain; a denied one gets kube-apiserver's 403 Status
    /// and goes no further. Health and version paths stay open, as Kubernetes' public-info-viewer role keeps them.
    /// </summary>
    public static IApplicationBuilder UseKubernetesAuthorization(this IApplicationBuilder app, RequestAuthorization authorization)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(authorization);
        return app.Use(async (context, next) =>
        {
            if (CertificateAuthentication.IsOpenPath(context.Request) || UserInfo.Of(context) is not { } user)
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            var attributes = AuthorizationAttributes.Of(context, user);
            var decision = await authorization.AuthorizeAsync(attributes, context.RequestAborted).ConfigureAwait(false);
            if (decision.Verdict != AuthorizationVerdict.Allow)
            {
                await ApiJson.WriteErrorAsync(context, RequestAuthorization.Forbidden(attributes, decision.Reason)).ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
    }
}
