using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Orchestration.ApiServer.Serialization;

namespace Orchestration.ApiServer.Security;

/// <summary>
/// Authenticates requests by client certificate: one signed by the cluster CA makes its CN the
/// user and its O entries the groups (plus <c>system:authenticated</c>); anything else gets 401 as a Status object. Health paths
/// stay open, as Kubernetes keeps them for probes.
/// </summary>
public static class CertificateAuthentication
{
    private static readonly HashSet<string> OpenPaths = ["/healthz", "/livez", "/readyz", "/version"];

    /// <summary>Adds the check to the pipeline.</summary>
    public static IApplicationBuilder UseClusterCertificateAuthentication(this IApplicationBuilder app, ClusterCertificates certificates)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        return app.Use(async (context, next) =>
        {
            if (OpenPaths.Contains(context.Request.Path.Value ?? ""))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            var certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false);
            if (certificate is null || !certificates.Trusts(certificate))
            {
                await ApiJson.WriteErrorAsync(context, ApiErrors.Unauthorized()).ConfigureAwait(false);
                return;
            }

            var claims = Claims(certificate).ToList();
            Authorization.UserInfo.Authenticated(
                claims.First(c => c.Type == ClaimTypes.Name).Value,
                claims.Where(c => c.Type == ClaimTypes.Role).Select(c => c.Value)).SetOn(context);
            await next(context).ConfigureAwait(false);
        });
    }

    private static IEnumerable<Claim> Claims(X509Certificate2 certificate)
    {
        yield return new Claim(ClaimTypes.Name, certificate.GetNameInfo(X509NameType.SimpleName, false));
        foreach (var part in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (part.GetSingleElementType().Value == "2.5.4.10" && part.GetSingleElementValue() is { } group)
            {
                yield return new Claim(ClaimTypes.Role, group);
            }
        }
    }
}
