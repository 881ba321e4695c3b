using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// Gives Services their addresses, as kube-apiserver's Service storage does: a new Service gets its
/// cluster IP and node ports (given back if the write does not happen); an update keeps the cluster
/// IP (it may not change) and the node ports it does not name, and claims new ones; a Service that
/// leaves the store gives its addresses back. A dry run claims nothing.
/// </summary>
/// <param name="store">The store, to refuse a taken name before its addresses are looked at.</param>
/// <param name="addresses">The allocator.</param>
public sealed class ServiceAddressAllocation(IStateStore store, ServiceAddresses addresses) : IMutatingAdmissionPlugin
{
    /// <inheritdoc />
    public string Name => "ServiceAddressAllocation";

    /// <inheritdoc />
    public async ValueTask AdmitAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Kind is not { Group: "", Kind: "Service" })
        {
            return;
        }

        var service = request.Object;
        switch (request.Operation)
        {
            case AdmissionOperation.Create when !request.DryRun:
                // An existing name is AlreadyExists, whatever addresses the new object asks for (a
                // generated name that is taken is the registry's to try again).
                if (string.IsNullOrEmpty(service["metadata"]?["generateName"]?.ToString())
                    && await store.GetAsync(ObjectRegistry.KeyFor(request.Kind, request.Namespace, request.Name), 0, cancellationToken).ConfigureAwait(false) is not null)
                {
                    throw new AlreadyExistsException(request.Kind.Group, request.Kind.Plural, request.Name);
                }

                await addresses.AllocateAsync(service, Uid(service), cancellationToken).ConfigureAwait(false);
                request.OnAbort(token => new ValueTask(addresses.ReleaseAsync(service, token)));
                break;
            case AdmissionOperation.Update:
                KeepAddresses(request.OldObject!, service, request.Name);
                if (!request.DryRun)
                {
                    await addresses.AllocateNodePortsAsync(service, Uid(request.OldObject!), cancellationToken).ConfigureAwait(false);
                }

                break;
            case AdmissionOperation.Delete when !request.DryRun:
                request.OnCommit(token => new ValueTask(addresses.ReleaseAsync(service, token)));
                break;
        }
    }

    private static string Uid(JsonObject service) => service["metadata"]?["uid"]?.ToString() ?? "";

    /// <summary>A Service's cluster IP is fixed once set, and its node ports stay unless the update names others.</summary>
    private static void KeepAddresses(JsonObject old, JsonObject next, string name)
    {
        var oldSpec = old["spec"] as JsonObject ?? [];
        var spec = next["spec"] as JsonObject;
        if (spec is null)
        {
            return;
        }

        var oldIp = oldSpec["clusterIP"]?.ToString();
        var sentIp = spec["clusterIP"]?.ToString();
        if (string.IsNullOrEmpty(sentIp))
        {
            foreach (var field in new[] { "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy" })
            {
                if (oldSpec[field] is { } value)
                {
                    spec[field] = value.DeepClone();
                }
            }
        }
        else if (sentIp != oldIp)
        {
            throw new InvalidException("", "Service", name, [ObjectValidation.InvalidValue("spec.clusterIPs[0]", sentIp, "may not change once set")]);
        }

        var oldPorts = (oldSpec["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        foreach (var port in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>().Where(p => p["nodePort"] is null))
        {
            var same = oldPorts.FirstOrDefault(o => JsonNode.DeepEquals(o["port"], port["port"]) && (o["protocol"]?.ToString() ?? "TCP") == (port["protocol"]?.ToString() ?? "TCP"));
            if (same?["nodePort"] is { } nodePort && spec["type"]?.ToString() is "NodePort" or "LoadBalancer")
            {
                port["nodePort"] = nodePort.DeepClone();
            }
        }
    }
}
