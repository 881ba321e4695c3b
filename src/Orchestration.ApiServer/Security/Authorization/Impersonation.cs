using Microsoft.AspNetCore.Builder;
using Orchestration.ApiServer.Serialization;

namespace Orchestration.ApiServer.Security.Authorization;

/// <summary>
/// Acting as another user (<c>kubectl --as NAME --as-group G</c>), as kube-apiserver's
/// impersonation filter does: the headers <c>Impersonate-User</c>, <c>Impersonate-Group</c> and
/// <c>Impersonate-Uid</c> replace the request's user once the authenticated user is allowed the
/// <c>impersonate</c> verb on each (<c>users</c>, <c>groups</c>, <c>serviceaccounts</c> for
/// <c>system:serviceaccount:NS:NAME</c>, <c>uids</c> in <c>authentication.k8s.io</c>); a refused
/// one is a 403 in kube-apiserver's words.
/// </summary>
public static class Impersonation
{
    private const string UserHeader = "Impersonate-User";
    private const string GroupHeader = "Impersonate-Group";
    private const string UidHeader = "Impersonate-Uid";
    private const string ServiceAccountPrefix = "system:serviceaccount:";

    /// <summary>Adds impersonation to the pipeline, after authentication and before authorization.</summary>
    public static IApplicationBuilder UseKubernetesImpersonation(this IApplicationBuilder app, RequestAuthorization authorization)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(authorization);
        return app.Use(async (context, next) =>
        {
            var headers = context.Request.Headers;
            if (UserInfo.Of(context) is not { } user || (!headers.ContainsKey(UserHeader) && !headers.ContainsKey(GroupHeader) && !headers.ContainsKey(UidHeader)))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            var name = headers[UserHeader].ToString();
            if (name.Length == 0)
            {
                await ApiJson.WriteErrorAsync(context, new Client.BadRequestException("requested impersonation of groups or a uid without impersonating a user")).ConfigureAwait(false);
                return;
            }

            var groups = headers[GroupHeader].Where(g => !string.IsNullOrEmpty(g)).Select(g => g!).ToList();
            var uid = headers[UidHeader].ToString();
            var checks = new List<AuthorizationAttributes> { UserCheck(user, name) };
            checks.AddRange(groups.Select(g => Check(user, "", "groups", "", g)));
            if (uid.Length > 0)
            {
                checks.Add(Check(user, "authentication.k8s.io", "uids", "", uid));
            }

            foreach (var check in checks)
            {
                var decision = await authorization.AuthorizeAsync(check, context.RequestAborted).ConfigureAwait(false);
                if (decision.Verdict != AuthorizationVerdict.Allow)
                {
                    await ApiJson.WriteErrorAsync(context, RequestAuthorization.Forbidden(check, decision.Reason)).ConfigureAwait(false);
                    return;
                }
            }

            // A ServiceAccount is in its groups by being one; any other impersonated user gets only the groups asked for.
            if (name.StartsWith(ServiceAccountPrefix, StringComparison.Ordinal) && name[ServiceAccountPrefix.Length..].Split(':') is [var ns, _])
            {
                groups.AddRange(["system:serviceaccounts", $"system:serviceaccounts:{ns}"]);
            }

            (name == UserInfo.AnonymousName ? new UserInfo(name, groups, uid) : UserInfo.Authenticated(name, groups, uid)).SetOn(context);
            await next(context).ConfigureAwait(false);
        });
    }

    private static AuthorizationAttributes UserCheck(UserInfo user, string name) =>
        name.StartsWith(ServiceAccountPrefix, StringComparison.Ordinal) && name[ServiceAccountPrefix.Length..].Split(':') is [var ns, var account]
            ? Check(user, "", "serviceaccounts", ns, account)
            : Check(user, "", "users", "", name);

    private static AuthorizationAttributes Check(UserInfo user, string group, string resource, string @namespace, string name) => new()
    {
        User = user,
        Verb = "impersonate",
        IsResourceRequest = true,
        ApiGroup = group,
        Resource = resource,
        Namespace = @namespace,
        Name = name,
    };
}
