using System.Security.Cryptography;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Orchestration.ApiServer.Security.Authorization;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Security.Tokens;

/// <summary>
/// ServiceAccount tokens, as kube-apiserver issues and checks bound ones: JWTs signed by the
/// cluster's ServiceAccount key (ES256), with the issuer, the audiences, an expiry, the
/// ServiceAccount (<c>sub</c> <c>system:serviceaccount:NS:NAME</c>, its uid) and, when bound, the pod
/// in the <c>kubernetes.io</c> claim. A token is accepted while its signature, issuer, audience
/// and lifetime hold and the objects it names still exist with the same uid (a bound pod that is
/// gone or being deleted ends it). The user is the ServiceAccount, in <c>system:serviceaccounts</c>
/// and <c>system:serviceaccounts:NS</c>.
/// </summary>
public sealed partial class ServiceAccountTokens(ObjectRegistry registry, TimeProvider timeProvider, ILogger<ServiceAccountTokens> logger) : ITokenAuthenticator, IServiceAccountTokenClient
{
    /// <summary>The issuer, and the audience the API server accepts (kube-apiserver's default, <c>--service-account-issuer</c>).</summary>
    public const string DefaultIssuer = "https://kubernetes.default.svc.cluster.local";

    /// <summary>The shortest lifetime a TokenRequest may ask for (ten minutes, as Kubernetes).</summary>
    public static readonly TimeSpan MinimumLifetime = TimeSpan.FromMinutes(10);

    private readonly LocalClusterClient _client = new(registry);
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private ECDsaSecurityKey? _key;

    /// <summary>Whether a signing key is set (an API server without certificates issues no tokens).</summary>
    public bool CanIssue => _key is not null;

    /// <summary>Signs and checks tokens with <paramref name="key"/> (the cluster's, from <see cref="ClusterCertificates.ServiceAccountSigningKey"/>).</summary>
    public void UseKey(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var id = Base64UrlEncoder.Encode(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
        _key = new ECDsaSecurityKey(key) { KeyId = id };
    }

    /// <summary>A token for <paramref name="account"/>, for <paramref name="audiences"/> (the API server's when empty), valid for <paramref name="lifetime"/>, bound to <paramref name="pod"/> when given.</summary>
    public (string Token, DateTimeOffset Expires) Issue(V1ServiceAccount account, IReadOnlyList<string> audiences, TimeSpan lifetime, V1Pod? pod)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(audiences);
        var key = _key ?? throw new InvalidOperationException("this API server has no ServiceAccount signing key (it serves without certificates)");
        var now = timeProvider.GetUtcNow();
        var expires = now + lifetime;
        var kubernetes = new Dictionary<string, object>
        {
            ["namespace"] = account.Metadata.NamespaceProperty,
            ["serviceaccount"] = new Dictionary<string, object> { ["name"] = account.Metadata.Name, ["uid"] = account.Metadata.Uid ?? "" },
        };
        if (pod is not null)
        {
            kubernetes["pod"] = new Dictionary<string, object> { ["name"] = pod.Metadata.Name, ["uid"] = pod.Metadata.Uid ?? "" };
            if (pod.Spec?.NodeName is { Length: > 0 } node)
            {
                kubernetes["node"] = new Dictionary<string, object> { ["name"] = node };
            }
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = DefaultIssuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
            Claims = new Dictionary<string, object>
            {
                ["sub"] = $"system:serviceaccount:{account.Metadata.NamespaceProperty}:{account.Metadata.Name}",
                ["aud"] = audiences.Count > 0 ? audiences.ToArray() : new[] { DefaultIssuer },
                ["jti"] = Guid.NewGuid().ToString(),
                ["kubernetes.io"] = kubernetes,
            },
        };
        return (_handler.CreateToken(descriptor), expires);
    }

    /// <summary>
    /// Serves a TokenRequest (the <c>serviceaccounts/token</c> subresource's handler and the node
    /// agents of this process call it): the ServiceAccount must exist, and so must the bound pod, with
    /// the uid asked for.
    /// </summary>
    /// <exception cref="ClusterApiException">No key (503), a lifetime under ten minutes (422), a missing object (404), another pod of that name (409).</exception>
    public async Task<ServiceAccountToken> RequestTokenAsync(string @namespace, string serviceAccount, ServiceAccountTokenRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!CanIssue)
        {
            throw new ClusterApiException(503, "ServiceUnavailable", "this API server issues no ServiceAccount tokens: it serves without certificates");
        }

        if (TimeSpan.FromSeconds(request.ExpirationSeconds) < MinimumLifetime)
        {
            throw new InvalidException("authentication.k8s.io", "TokenRequest", serviceAccount, [ObjectValidation.InvalidValue("spec.expirationSeconds", request.ExpirationSeconds, "may not specify a duration less than 10 minutes")]);
        }

        var account = await _client.GetAsync<V1ServiceAccount>(@namespace, serviceAccount, cancellationToken).ConfigureAwait(false);
        V1Pod? pod = null;
        if (request.BoundPodName is { } podName)
        {
            pod = await _client.GetAsync<V1Pod>(@namespace, podName, cancellationToken).ConfigureAwait(false);
            if (request.BoundPodUid is { Length: > 0 } uid && uid != pod.Metadata.Uid)
            {
                throw new ConflictException("", "pods", podName, $"the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated");
            }
        }

        var (token, expires) = Issue(account, request.Audiences, TimeSpan.FromSeconds(request.ExpirationSeconds), pod);
        return new ServiceAccountToken(token, expires);
    }

    /// <inheritdoc />
    public async ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_key is not { } key || !_handler.CanReadToken(token))
        {
            return null;
        }

        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = DefaultIssuer,
            ValidAudience = DefaultIssuer,
            IssuerSigningKey = key,
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            ClockSkew = TimeSpan.Zero,
            LifetimeValidator = (notBefore, expires, _, _) =>
            {
                var now = timeProvider.GetUtcNow().UtcDateTime;
                return expires is { } end && now < end && (notBefore is not { } start || now >= start);
            },
        }).ConfigureAwait(false);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            // Not ours, forged, expired or for another audience: the same 401 for each, the reason in the log.
            LogRejected(result.Exception?.GetType().Name ?? "invalid");
            return null;
        }

        var claims = JsonNode.Parse(Base64UrlEncoder.Decode(jwt.EncodedPayload))?["kubernetes.io"] as JsonObject;
        var ns = claims?["namespace"]?.ToString();
        var accountName = claims?["serviceaccount"]?["name"]?.ToString();
        if (ns is null || accountName is null || jwt.Subject != $"system:serviceaccount:{ns}:{accountName}")
        {
            LogRejected("claims");
            return null;
        }

        // The objects the token names must still be there, the same ones.
        if (await ObjectAsync<V1ServiceAccount>(ns, accountName, cancellationToken).ConfigureAwait(false) is not { } account
            || account.Metadata.Uid != claims!["serviceaccount"]!["uid"]?.ToString())
        {
            LogRejected("the ServiceAccount is gone");
            return null;
        }

        var extra = new Dictionary<string, IReadOnlyList<string>> { ["authentication.kubernetes.io/credential-id"] = [$"JTI={jwt.Id}"] };
        if (claims["pod"] is JsonObject bound)
        {
            var podName = bound["name"]?.ToString() ?? "";
            if (await ObjectAsync<V1Pod>(ns, podName, cancellationToken).ConfigureAwait(false) is not { } pod
                || pod.Metadata.Uid != bound["uid"]?.ToString() || pod.Metadata.DeletionTimestamp is not null)
            {
                LogRejected("the pod it is bound to is gone");
                return null;
            }

            extra["authentication.kubernetes.io/pod-name"] = [podName];
            extra["authentication.kubernetes.io/pod-uid"] = [pod.Metadata.Uid ?? ""];
        }

        return UserInfo.Authenticated(jwt.Subject, ["system:serviceaccounts", $"system:serviceaccounts:{ns}"], account.Metadata.Uid ?? "") with { Extra = extra };
    }

    private async Task<T?> ObjectAsync<T>(string ns, string name, CancellationToken cancellationToken)
        where T : class, k8s.IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            return await _client.GetAsync<T>(ns, name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 2040, Level = LogLevel.Debug, Message = "A bearer token was refused: {Reason}")]
    private partial void LogRejected(string reason);
}
