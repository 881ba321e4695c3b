using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Patching;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Admission;
using Orchestration.State;

namespace Orchestration.ApiServer.Admission;

/// <summary>
/// Dynamic admission, as kube-apiserver's MutatingAdmissionWebhook and ValidatingAdmissionWebhook
/// plugins: every <c>MutatingWebhookConfiguration</c> / <c>ValidatingWebhookConfiguration</c>
/// webhook whose rules (operations, apiGroups, apiVersions, resources, scope), namespaceSelector
/// and objectSelector match a write is sent an <c>admission.k8s.io/v1</c> AdmissionReview over
/// HTTPS (<c>clientConfig.url</c>, trusting <c>caBundle</c>), within <c>timeoutSeconds</c> (10 by
/// default). A mutating webhook's JSONPatch is applied to the object; a webhook that says
/// <c>allowed: false</c> refuses the write with its status (<c>admission webhook "NAME" denied the
/// request: ...</c>); a webhook that cannot be called refuses it under <c>failurePolicy: Fail</c>
/// (the default) and is skipped under <c>Ignore</c>. Webhooks reached through
/// <c>clientConfig.service</c> need the pod network on the API server's machine and fail as
/// unreachable until then.
/// </summary>
public sealed partial class WebhookAdmission(IStateStore store, ResourceKindTable kinds, ILogger<WebhookAdmission> logger) : IMutatingAdmissionPlugin, IValidatingAdmissionPlugin
{
    private readonly JsonPatcher _patcher = new();

    /// <inheritdoc />
    public string Name => "Webhooks";

    /// <inheritdoc />
    public ValueTask AdmitAsync(AdmissionRequest request, CancellationToken cancellationToken) => CallAsync(request, mutating: true, cancellationToken);

    /// <inheritdoc />
    public ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken) => CallAsync(request, mutating: false, cancellationToken);

    private async ValueTask CallAsync(AdmissionRequest request, bool mutating, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Kind.Group == "admissionregistration.k8s.io")
        {
            // As Kubernetes: webhooks are never called for their own configurations.
            return;
        }

        var configurationKind = kinds.Find("admissionregistration.k8s.io", mutating ? "mutatingwebhookconfigurations" : "validatingwebhookconfigurations");
        if (configurationKind is null)
        {
            return;
        }

        var configurations = await StoredObjects.ListAsync(store, ObjectRegistry.PrefixFor(configurationKind, null), cancellationToken).ConfigureAwait(false);
        if (configurations.Count == 0)
        {
            return;
        }

        JsonObject? namespaceLabels = null;
        foreach (var configuration in configurations.OrderBy(c => c["metadata"]?["name"]?.ToString(), StringComparer.Ordinal))
        {
            foreach (var webhook in (configuration["webhooks"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (!RulesMatch(webhook, request))
                {
                    continue;
                }

                if (webhook["namespaceSelector"] is JsonObject nsSelector && request.Namespace is { } ns)
                {
                    namespaceLabels ??= await StoredObjects.NamespaceLabelsAsync(store, ns, cancellationToken).ConfigureAwait(false) ?? [];
                    if (!Selects(nsSelector, namespaceLabels))
                    {
                        continue;
                    }
                }

                if (webhook["objectSelector"] is JsonObject objectSelector && !Selects(objectSelector, (request.Object["metadata"]?["labels"] ?? request.OldObject?["metadata"]?["labels"]) as JsonObject ?? []))
                {
                    continue;
                }

                await CallWebhookAsync(webhook, request, mutating, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task CallWebhookAsync(JsonObject webhook, AdmissionRequest request, bool mutating, CancellationToken cancellationToken)
    {
        var name = webhook["name"]?.ToString() ?? "";
        var failClosed = webhook["failurePolicy"]?.ToString() != "Ignore";
        var uid = Guid.NewGuid().ToString();
        JsonObject? response;
        try
        {
            response = await PostAsync(webhook, Review(request, uid), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or InvalidOperationException or System.Text.Json.JsonException or FormatException && !cancellationToken.IsCancellationRequested)
        {
            LogCallFailed(ex, name, failClosed);
            if (failClosed)
            {
                throw new ClusterApiException(500, "InternalError", $"Internal error occurred: failed calling webhook \"{name}\": {Describe(ex)}");
            }

            return;
        }

        if (response?["uid"]?.ToString() != uid)
        {
            if (failClosed)
            {
                throw new ClusterApiException(500, "InternalError", $"Internal error occurred: failed calling webhook \"{name}\": expected response.uid=\"{uid}\", got \"{response?["uid"]}\"");
            }

            return;
        }

        if (response["allowed"]?.GetValue<bool>() != true)
        {
            var status = response["status"] as JsonObject;
            var code = status?["code"] is JsonValue value && value.TryGetValue<int>(out var c) && c >= 400 ? c : 403;
            var message = status?["message"]?.ToString() is { Length: > 0 } said ? said : "";
            throw new ClusterApiException(code, code == 403 ? "Forbidden" : status?["reason"]?.ToString() ?? "Forbidden", $"admission webhook \"{name}\" denied the request{(message.Length > 0 ? ": " + message : " without explanation")}");
        }

        if (mutating && response["patch"]?.ToString() is { Length: > 0 } encoded)
        {
            if (response["patchType"]?.ToString() is { } type && type != "JSONPatch")
            {
                throw new ClusterApiException(500, "InternalError", $"Internal error occurred: webhook \"{name}\" returned patchType \"{type}\"; only JSONPatch is supported");
            }

            var patch = new ObjectPatch(PatchKind.Json, Encoding.UTF8.GetString(Convert.FromBase64String(encoded)));
            _patcher.Apply(request.Kind, request.Object, _patcher.Parse(patch), patch);
        }
    }

    private static async Task<JsonObject?> PostAsync(JsonObject webhook, JsonObject review, CancellationToken cancellationToken)
    {
        var config = webhook["clientConfig"] as JsonObject ?? throw new InvalidOperationException("the webhook has no clientConfig");
        var url = config["url"]?.ToString() ?? throw new InvalidOperationException("clientConfig.service is not reachable from this API server yet; use clientConfig.url");
        var timeout = TimeSpan.FromSeconds(webhook["timeoutSeconds"] is JsonValue t && t.TryGetValue<int>(out var seconds) ? Math.Clamp(seconds, 1, 30) : 10);
        using var handler = new HttpClientHandler();
        if (config["caBundle"]?.ToString() is { Length: > 0 } bundle)
        {
            var trusted = new X509Certificate2Collection();
            trusted.ImportFromPem(Encoding.UTF8.GetString(Convert.FromBase64String(bundle)));
            handler.ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate);
            };
        }

        using var client = new HttpClient(handler) { Timeout = timeout };
        using var sent = await client.PostAsJsonAsync(url, review, cancellationToken).ConfigureAwait(false);
        sent.EnsureSuccessStatusCode();
        var body = await sent.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false);
        return body?["response"] as JsonObject;
    }

    private static JsonObject Review(AdmissionRequest request, string uid)
    {
        var kind = request.Kind;
        var gvk = new JsonObject { ["group"] = kind.Group, ["version"] = kind.Version, ["kind"] = kind.Kind };
        var gvr = new JsonObject { ["group"] = kind.Group, ["version"] = kind.Version, ["resource"] = kind.Plural };
        var body = new JsonObject
        {
            ["uid"] = uid,
            ["kind"] = gvk,
            ["resource"] = gvr,
            ["requestKind"] = gvk.DeepClone(),
            ["requestResource"] = gvr.DeepClone(),
            ["name"] = request.Name,
            ["operation"] = request.Operation.ToString().ToUpperInvariant(),
            ["userInfo"] = request.User is { } user
                ? new JsonObject { ["username"] = user.Name, ["uid"] = user.Uid, ["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode?)JsonValue.Create(g))]) }
                : new JsonObject(),
            ["object"] = request.Operation == AdmissionOperation.Delete ? null : request.Object.DeepClone(),
            ["oldObject"] = request.OldObject?.DeepClone(),
            ["dryRun"] = request.DryRun,
        };
        if (request.Namespace is { } ns)
        {
            body["namespace"] = ns;
        }

        return new JsonObject { ["apiVersion"] = "admission.k8s.io/v1", ["kind"] = "AdmissionReview", ["request"] = body };
    }

    private static bool RulesMatch(JsonObject webhook, AdmissionRequest request)
    {
        var operation = request.Operation.ToString().ToUpperInvariant();
        return (webhook["rules"] as JsonArray ?? []).OfType<JsonObject>().Any(rule =>
            Has(rule["operations"], operation)
            && Has(rule["apiGroups"], request.Kind.Group)
            && Has(rule["apiVersions"], request.Kind.Version)
            && Has(rule["resources"], request.Kind.Plural)
            && (rule["scope"]?.ToString() ?? "*") switch
            {
                "Namespaced" => request.Kind.Namespaced,
                "Cluster" => !request.Kind.Namespaced,
                _ => true,
            });
    }

    private static bool Has(JsonNode? values, string value) =>
        values is JsonArray array && array.Any(v => v?.ToString() is "*" || v?.ToString() == value);

    // A label selector (matchLabels, matchExpressions) over labels.
    private static bool Selects(JsonObject selector, JsonObject labels)
    {
        var text = LabelSelectors.ToString(selector);
        return LabelSelector.Parse(text).Matches(labels.ToDictionary(l => l.Key, l => l.Value?.ToString() ?? ""));
    }

    private static string Describe(Exception ex) => ex switch
    {
        TaskCanceledException => "the webhook did not answer in time (context deadline exceeded)",
        HttpRequestException http => $"failed to call webhook: {http.Message}",
        _ => ex.Message,
    };

    [LoggerMessage(EventId = 2060, Level = LogLevel.Warning, Message = "Calling admission webhook {Webhook} failed (refusing the write: {FailClosed})")]
    private partial void LogCallFailed(Exception ex, string webhook, bool failClosed);
}
