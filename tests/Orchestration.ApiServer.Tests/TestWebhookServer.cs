using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Orchestration.ApiServer.Tests;

/// <summary>An admission webhook server on loopback, HTTPS with a self-signed certificate (its <see cref="CaBundle"/>), answering AdmissionReviews at paths the test maps.</summary>
internal sealed class TestWebhookServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestWebhookServer(WebApplication app, string caBundle)
    {
        _app = app;
        CaBundle = caBundle;
    }

    /// <summary>The base64 PEM of the server's certificate, for <c>clientConfig.caBundle</c>.</summary>
    public string CaBundle { get; }

    /// <summary>The server's base URL.</summary>
    public string Url => _app.Urls.First();

    /// <summary>Starts a server whose handlers answer each review (the answer's <c>response</c> object), after an optional delay.</summary>
    public static async Task<TestWebhookServer> StartAsync(IReadOnlyDictionary<string, (TimeSpan Delay, Func<JsonObject, JsonObject> Answer)> handlers)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=webhook", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        var caBundle = Convert.ToBase64String(Encoding.UTF8.GetBytes(certificate.ExportCertificatePem()));
        var serving = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(serving)));
        var app = builder.Build();
        foreach (var (path, (delay, answer)) in handlers)
        {
            app.MapPost(path, async context =>
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, context.RequestAborted);
                }

                var review = (await context.Request.ReadFromJsonAsync<JsonObject>())!;
                await context.Response.WriteAsJsonAsync(new JsonObject { ["apiVersion"] = "admission.k8s.io/v1", ["kind"] = "AdmissionReview", ["response"] = answer(review) });
            });
        }

        await app.StartAsync();
        return new TestWebhookServer(app, caBundle);
    }

    /// <summary>An allowing response, with a JSONPatch when given.</summary>
    public static JsonObject Allowed(JsonObject review, string? patch = null)
    {
        var response = new JsonObject { ["uid"] = review["request"]!["uid"]!.ToString(), ["allowed"] = true };
        if (patch is not null)
        {
            response["patchType"] = "JSONPatch";
            response["patch"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(patch));
        }

        return response;
    }

    /// <summary>A webhook configuration (Mutating or Validating) for CREATE of <paramref name="resource"/> in the core group.</summary>
    public static JsonObject Configuration(string kind, string name, string url, string caBundle, string resource, string failurePolicy, int timeoutSeconds, JsonObject? namespaceSelector = null)
    {
        var webhook = new JsonObject
        {
            ["name"] = name,
            ["clientConfig"] = new JsonObject { ["url"] = url, ["caBundle"] = caBundle },
            ["rules"] = new JsonArray(new JsonObject { ["operations"] = new JsonArray("CREATE"), ["apiGroups"] = new JsonArray(""), ["apiVersions"] = new JsonArray("v1"), ["resources"] = new JsonArray(resource) }),
            ["failurePolicy"] = failurePolicy,
            ["timeoutSeconds"] = timeoutSeconds,
            ["sideEffects"] = "None",
            ["admissionReviewVersions"] = new JsonArray("v1"),
        };
        if (namespaceSelector is not null)
        {
            webhook["namespaceSelector"] = namespaceSelector;
        }

        return new JsonObject { ["apiVersion"] = "admissionregistration.k8s.io/v1", ["kind"] = kind, ["metadata"] = new JsonObject { ["name"] = name }, ["webhooks"] = new JsonArray(webhook) };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
