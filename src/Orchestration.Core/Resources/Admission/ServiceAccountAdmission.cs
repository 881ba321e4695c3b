using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// kube-apiserver's ServiceAccount admission for new pods: the pod runs as <c>default</c> unless it
/// names a ServiceAccount, which must exist (the namespace's <c>default</c> one is waited for a
/// moment, since the ServiceAccount controller makes it just after the namespace); it gets the
/// ServiceAccount's image pull secrets when it has none; and unless
/// <c>automountServiceAccountToken</c> is false (on the pod, else on the ServiceAccount) it gets the
/// <c>kube-api-access-XXXXX</c> projected volume (a bound token, the cluster's CA from the
/// <c>kube-root-ca.crt</c> ConfigMap, the namespace) mounted read-only at
/// <see cref="MountPath"/> in every container that mounts nothing there itself: what the official
/// clients' in-cluster configuration reads.
/// </summary>
/// <param name="store">The store, where the ServiceAccount is read.</param>
/// <param name="time">The clock the wait for the default ServiceAccount runs on.</param>
public sealed class ServiceAccountAdmission(IStateStore store, TimeProvider time) : IMutatingAdmissionPlugin
{
    /// <summary>Where the token, <c>ca.crt</c> and <c>namespace</c> appear in a container.</summary>
    public const string MountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>The prefix of the projected volume's name.</summary>
    public const string VolumePrefix = "kube-api-access-";

    /// <summary>The ConfigMap every namespace has with the cluster's CA certificate under <c>ca.crt</c>.</summary>
    public const string RootCaConfigMap = "kube-root-ca.crt";

    /// <summary>The token's lifetime as the volume asks for it (kube-apiserver's 3607 s, which marks a token as the admission's own).</summary>
    public const long TokenExpirationSeconds = 3607;

    private const string MirrorAnnotation = "kubernetes.io/config.mirror";
    private const string NameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    // kube-apiserver looks the default ServiceAccount up ten times, 100-200 ms apart, before it refuses.
    private const int DefaultAccountAttempts = 10;

    /// <inheritdoc />
    public string Name => "ServiceAccount";

    /// <inheritdoc />
    public async ValueTask AdmitAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Operation != AdmissionOperation.Create || request.Kind is not { Group: "", Kind: "Pod" } || request.Namespace is not { } ns
            || request.Object["metadata"]?["annotations"]?[MirrorAnnotation] is not null)
        {
            return;
        }

        var spec = request.Object["spec"] as JsonObject ?? [];
        request.Object["spec"] = spec;
        var accountName = spec["serviceAccountName"]?.ToString() is { Length: > 0 } named ? named
            : spec["serviceAccount"]?.ToString() is { Length: > 0 } legacy ? legacy
            : Controllers.Auth.ServiceAccountController.DefaultName;
        spec["serviceAccountName"] = accountName;
        spec["serviceAccount"] = accountName;

        var account = await FindAsync(ns, accountName, cancellationToken).ConfigureAwait(false)
            ?? throw new ForbiddenException($"pods \"{request.Name}\" is forbidden: error looking up service account {ns}/{accountName}: serviceaccount \"{accountName}\" not found");

        if (spec["imagePullSecrets"] is not JsonArray { Count: > 0 } && account["imagePullSecrets"] is JsonArray { Count: > 0 } pullSecrets)
        {
            spec["imagePullSecrets"] = pullSecrets.DeepClone();
        }

        var automount = spec["automountServiceAccountToken"] is JsonValue podChoice && podChoice.TryGetValue<bool>(out var onPod) ? onPod
            : account["automountServiceAccountToken"] is not JsonValue accountChoice || !accountChoice.TryGetValue<bool>(out var onAccount) || onAccount;
        if (automount)
        {
            Mount(spec);
        }
    }

    private static void Mount(JsonObject spec)
    {
        var volumes = spec["volumes"] as JsonArray ?? [];
        var existing = volumes.OfType<JsonObject>().Select(v => v["name"]?.ToString() ?? "").FirstOrDefault(n => n.StartsWith(VolumePrefix, StringComparison.Ordinal));
        var volumeName = existing ?? VolumePrefix + RandomNumberGenerator.GetString(NameAlphabet, 5);
        var needed = false;
        foreach (var list in new[] { "initContainers", "containers" })
        {
            foreach (var container in (spec[list] as JsonArray ?? []).OfType<JsonObject>())
            {
                var mounts = container["volumeMounts"] as JsonArray ?? [];
                if (mounts.OfType<JsonObject>().Any(m => m["mountPath"]?.ToString() == MountPath))
                {
                    continue;
                }

                mounts.Add(new JsonObject { ["name"] = volumeName, ["readOnly"] = true, ["mountPath"] = MountPath });
                container["volumeMounts"] = mounts;
                needed = true;
            }
        }

        if (existing is not null || !needed)
        {
            return;
        }

        volumes.Add(new JsonObject
        {
            ["name"] = volumeName,
            ["projected"] = new JsonObject
            {
                ["defaultMode"] = 420,
                ["sources"] = new JsonArray(
                    new JsonObject { ["serviceAccountToken"] = new JsonObject { ["expirationSeconds"] = TokenExpirationSeconds, ["path"] = "token" } },
                    new JsonObject { ["configMap"] = new JsonObject { ["name"] = RootCaConfigMap, ["items"] = new JsonArray(new JsonObject { ["key"] = "ca.crt", ["path"] = "ca.crt" }) } },
                    new JsonObject
                    {
                        ["downwardAPI"] = new JsonObject
                        {
                            ["items"] = new JsonArray(new JsonObject { ["path"] = "namespace", ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = "metadata.namespace" } }),
                        },
                    }),
            },
        });
        spec["volumes"] = volumes;
    }

    private async Task<JsonObject?> FindAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var attempts = name == Controllers.Auth.ServiceAccountController.DefaultName ? DefaultAccountAttempts : 1;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(100)), time, cancellationToken).ConfigureAwait(false);
            }

            var kv = await store.GetAsync($"/registry/core/serviceaccounts/{ns}/{name}", 0, cancellationToken).ConfigureAwait(false);
            if (kv is not null && JsonNode.Parse(kv.Value.Span) is JsonObject account)
            {
                return account;
            }
        }

        return null;
    }
}
