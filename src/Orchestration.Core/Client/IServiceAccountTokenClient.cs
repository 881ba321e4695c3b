namespace Orchestration.Client;

/// <summary>
/// Asks the API server for a ServiceAccount token (the <c>serviceaccounts/token</c> subresource, a
/// TokenRequest): what a node agent calls to fill a pod's projected <c>serviceAccountToken</c>
/// volume source, as kubelet's token manager does.
/// </summary>
public interface IServiceAccountTokenClient
{
    /// <summary>A token for ServiceAccount <paramref name="serviceAccount"/> of <paramref name="namespace"/>.</summary>
    /// <exception cref="NotFoundException">No such ServiceAccount, or the bound pod is gone.</exception>
    /// <exception cref="ClusterApiException">The API server refused the request.</exception>
    Task<ServiceAccountToken> RequestTokenAsync(string @namespace, string serviceAccount, ServiceAccountTokenRequest request, CancellationToken cancellationToken = default);
}

/// <summary>What a TokenRequest asks for: its <c>spec</c>.</summary>
/// <param name="Audiences">Who the token is for; empty means the API server itself.</param>
/// <param name="ExpirationSeconds">The lifetime asked for (at least ten minutes).</param>
/// <param name="BoundPodName">The pod the token is bound to (it stops working once the pod goes), or null.</param>
/// <param name="BoundPodUid">That pod's uid, which must still match, or null.</param>
public sealed record ServiceAccountTokenRequest(IReadOnlyList<string> Audiences, long ExpirationSeconds, string? BoundPodName = null, string? BoundPodUid = null);

/// <summary>An issued token: its <c>status</c>.</summary>
/// <param name="Token">The signed token.</param>
/// <param name="ExpirationTimestamp">When it stops working.</param>
public sealed record ServiceAccountToken(string Token, DateTimeOffset ExpirationTimestamp);
