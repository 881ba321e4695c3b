using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Orchestration.ApiServer.Security.Authorization;

/// <summary>Who a request is from, as the authenticators say: a user name, its groups, a uid and extra attributes.</summary>
/// <param name="Name">The user name (<c>alice</c>, <c>system:node:web-1</c>, <c>system:serviceaccount:ns:name</c>).</param>
/// <param name="Groups">The groups, <c>system:authenticated</c> included for every authenticated user.</param>
/// <param name="Uid">A unique id, when the authenticator has one.</param>
public sealed record UserInfo(string Name, IReadOnlyList<string> Groups, string Uid = "")
{
    /// <summary>The group every authenticated user is in.</summary>
    public const string AuthenticatedGroup = "system:authenticated";

    /// <summary>The group of requests that carry no credential.</summary>
    public const string UnauthenticatedGroup = "system:unauthenticated";

    /// <summary>The group whose members may do anything, without asking the authorizers (Kubernetes' privileged group).</summary>
    public const string MastersGroup = "system:masters";

    /// <summary>The user of requests that carry no credential.</summary>
    public const string AnonymousName = "system:anonymous";

    /// <summary>The user of a request without credentials.</summary>
    public static UserInfo Anonymous { get; } = new(AnonymousName, [UnauthenticatedGroup]);

    /// <summary>Extra attributes (<c>authentication.kubernetes.io/pod-name</c> of a ServiceAccount token).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Extra { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>An authenticated user: <paramref name="groups"/> plus <c>system:authenticated</c>.</summary>
    public static UserInfo Authenticated(string name, IEnumerable<string> groups, string uid = "") =>
        new(name, groups.Append(AuthenticatedGroup).Distinct(StringComparer.Ordinal).ToList(), uid);

    /// <summary>The user an authenticator put on the request (<see cref="ToPrincipal"/>), or null when none did.</summary>
    public static UserInfo? Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<UserInfo>() is { } user)
        {
            return user;
        }

        var identity = context.User.Identity;
        if (identity?.IsAuthenticated != true || identity.Name is not { } name)
        {
            return null;
        }

        return Authenticated(name, context.User.FindAll(ClaimTypes.Role).Select(c => c.Value));
    }

    /// <summary>Puts this user on the request, for the authorizers and handlers after the authenticator.</summary>
    public void SetOn(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Features.Set(this);
        context.User = ToPrincipal();
    }

    /// <summary>The user as a claims principal (name and role claims), as ASP.NET Core components read it.</summary>
    public ClaimsPrincipal ToPrincipal() =>
        new(new ClaimsIdentity(Groups.Select(g => new Claim(ClaimTypes.Role, g)).Prepend(new Claim(ClaimTypes.Name, Name)), "orchestration"));

    /// <summary>Whether the user is in <paramref name="group"/>.</summary>
    public bool InGroup(string group) => Groups.Contains(group, StringComparer.Ordinal);
}
