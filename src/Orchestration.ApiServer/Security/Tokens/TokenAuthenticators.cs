using Microsoft.Extensions.Options;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Security.Authorization;

namespace Orchestration.ApiServer.Security.Tokens;

/// <summary>
/// The bearer-token authenticators of this API server, in the order they are asked: those
/// registered in DI (ServiceAccount tokens, bootstrap tokens, a user's own), then the static token
/// file of <see cref="ApiServerOptions.TokenAuthFile"/> when one is given. What the authentication
/// filter and the TokenReview API both use.
/// </summary>
public sealed class TokenAuthenticators(IEnumerable<ITokenAuthenticator> registered, IOptions<ApiServerOptions> options)
{
    private readonly ITokenAuthenticator[] _all = [.. registered, .. StaticFile(options.Value.TokenAuthFile)];

    /// <summary>The user <paramref name="token"/> stands for, or null when no authenticator accepts it.</summary>
    public async ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        foreach (var authenticator in _all)
        {
            if (await authenticator.AuthenticateAsync(token, cancellationToken).ConfigureAwait(false) is { } user)
            {
                return user;
            }
        }

        return null;
    }

    private static ITokenAuthenticator[] StaticFile(string? path) =>
        path is null ? [] : [ConfigurationFiles.Load(path, "token file", StaticTokens.Parse)];
}
