using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Orchestration.ApiServer.Security.Authorization;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.ApiServer.Security.Tokens;

/// <summary>
/// Bootstrap tokens, as kube-apiserver's bootstrap token authenticator reads them: a token
/// <c>ID.SECRET</c> (6 and 16 characters of [a-z0-9]) matches the Secret <c>bootstrap-token-ID</c>
/// in kube-system, of type <c>bootstrap.kubernetes.io/token</c>, whose <c>token-secret</c> is SECRET,
/// whose <c>usage-bootstrap-authentication</c> is "true" and whose <c>expiration</c> (RFC 3339), if
/// any, has not passed. The user is <c>system:bootstrap:ID</c> in <c>system:bootstrappers</c> and
/// the Secret's <c>auth-extra-groups</c>. What joining workers use (issue 18).
/// </summary>
public sealed partial class BootstrapTokens(IStateStore store, ResourceKindTable kinds, TimeProvider timeProvider) : ITokenAuthenticator
{
    /// <inheritdoc />
    public async ValueTask<UserInfo?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var match = TokenPattern().Match(token);
        if (!match.Success || kinds.Find("", "secrets") is not { } secrets)
        {
            return null;
        }

        var id = match.Groups[1].Value;
        var kv = await store.GetAsync(ObjectRegistry.KeyFor(secrets, "kube-system", $"bootstrap-token-{id}"), 0, cancellationToken).ConfigureAwait(false);
        if (kv is null || !kv.Value.Span.StartsWith("{"u8) || JsonNode.Parse(kv.Value.Span) is not JsonObject secret
            || secret["type"]?.ToString() != "bootstrap.kubernetes.io/token" || secret["data"] is not JsonObject data)
        {
            // Absent, of another type, or stored encrypted (this authenticator reads the store as it is).
            return null;
        }

        string? Field(string name) => data[name]?.ToString() is { } encoded ? Encoding.UTF8.GetString(Convert.FromBase64String(encoded)) : null;
        var expected = Field("token-secret") ?? "";
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(match.Groups[2].Value))
            || Field("usage-bootstrap-authentication") != "true"
            || (Field("expiration") is { } expiration && DateTimeOffset.TryParse(expiration, System.Globalization.CultureInfo.InvariantCulture, out var expires) && timeProvider.GetUtcNow() >= expires))
        {
            return null;
        }

        var extra = (Field("auth-extra-groups") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(g => g.StartsWith("system:bootstrappers:", StringComparison.Ordinal));
        return UserInfo.Authenticated($"system:bootstrap:{id}", ["system:bootstrappers", .. extra]);
    }

    [GeneratedRegex("^([a-z0-9]{6})\\.([a-z0-9]{16})$")]
    private static partial Regex TokenPattern();
}
