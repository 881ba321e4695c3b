using Orchestration.ApiServer.Security.Authorization;

namespace Orchestration.ApiServer.Security.Tokens;

/// <summary>
/// Authenticates a bearer token (kube-apiserver's token authenticators: ServiceAccount tokens,
/// bootstrap tokens, a static token file). Authenticators are asked in registration order; the
/// first that knows the token says who it is.
/// </summary>
public interface ITokenAuthenticator
{
    /// <summary>The user <paramref name="token"/> stands for, or null when this authenticator does not accept it.</summary>
    ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken);
}
