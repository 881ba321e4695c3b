using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Orchestration.ApiServer.Security.Authorization;
using Orchestration.ApiServer.Security.Tokens;
using Orchestration.ApiServer.Serialization;

namespace Orchestration.ApiServer.Security;

/// <summary>
/// Authenticates requests as kube-apiserver does, first by client certificate: one signed by the
/// cluster CA makes its CN the user and its O entries the groups (plus <c>system:authenticated</c>);
/// then by bearer token (<c>Authorization: Bearer</c>), asking each <see cref="ITokenAuthenticator"/>.
/// A request that neither authenticates gets 401 as a Status object, whatever else it carries.
/// Health paths stay open, as Kubernetes keeps them for probes.
/// </summary>
public static class CertificateAuthentication
{
    private static readonly HashSet<string> OpenPaths = ["/healthz", "/livez", "/readyz", "/version"];

    /// <summary>Adds client-certificate authentication to the pipeline.</summary>
    public static IApplicationBuilder UseClusterCertificateAuthentication(this IApplicationBuilder app, ClusterCertificates certificates) =>
        app.UseClusterCertificateAuthentication(certificates, null, anonymous: false);

    /// <summary>
    /// Adds client-certificate and bearer-token authentication to the pipeline; with
    /// <paramref name="anonymous"/>, a request that carries no credential at all is served as
    /// <c>system:anonymous</c> (a wrong one still gets 401).
    /// </summary>
    public static IApplicationBuilder UseClusterCertificateAuthentication(this IApplicationBuilder app, ClusterCertificates certificates, TokenAuthenticators? tokens, bool anonymous)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        return app.Use(async (context, next) =>
        {
            if (IsOpenPath(context.Request))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            var certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false);
            var user = certificate is not null && certificates.Trusts(certificate) ? UserOf(certificate) : null;
            var token = BearerToken(context.Request);
            if (user is null && token is not null && tokens is not null)
            {
                user = await tokens.AuthenticateAsync(token, context.RequestAborted).ConfigureAwait(false);
            }

            if (user is null && anonymous && certificate is null && token is null && context.Request.Headers.Authorization.Count == 0)
            {
                user = UserInfo.Anonymous;
            }

            if (user is null)
            {
                await ApiJson.WriteErrorAsync(context, ApiErrors.Unauthorized()).ConfigureAwait(false);
                return;
            }

            user.SetOn(context);
            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>Whether the request is for a path every client may read without credentials (health and version, as Kubernetes keeps them for probes).</summary>
    internal static bool IsOpenPath(HttpRequest request) => OpenPaths.Contains(request.Path.Value ?? "");

    private static string? BearerToken(HttpRequest request) =>
        request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header[7..].Trim() is { Length: > 0 } token
            ? token
            : null;

    private static UserInfo UserOf(X509Certificate2 certificate)
    {
        var groups = new List<string>();
        foreach (var part in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (part.GetSingleElementType().Value == "2.5.4.10" && part.GetSingleElementValue() is { } group)
            {
                groups.Add(group);
            }
        }

        return UserInfo.Authenticated(certificate.GetNameInfo(X509NameType.SimpleName, false), groups);
    }
}
