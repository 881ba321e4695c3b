using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Networking;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// Gives Services their cluster IPs and node ports, as the API server's allocators do: each taken
/// address is a claim key in the store (<c>/registry/ranges/...</c>) created with compare-and-swap,
/// so two Services never get the same one, and naming the Service's uid, so a claim whose Service is
/// gone (a write that failed half way) is taken over instead of leaking.
/// </summary>
public sealed class ServiceAddresses(IStateStore store, ServiceAddressOptions options)
{
    private const string IpPrefix = "/registry/ranges/serviceips/";
    private const string PortPrefix = "/registry/ranges/servicenodeports/";
    private readonly IPNetwork _network = options.Network;

    /// <summary>The address of the <c>kubernetes</c> service: the network's first host address.</summary>
    public IPAddress FirstAddress => Offset(1);

    /// <summary>The address of the cluster DNS (the <c>kube-dns</c> Service): the network's tenth host address, as kubeadm chooses it (10.96.0.10).</summary>
    public IPAddress DnsAddress => Offset(10);

    /// <summary>Fills in and claims the cluster IP and node ports a new Service needs.</summary>
    /// <exception cref="InvalidException">A requested address is outside the range or taken.</exception>
    public async Task AllocateAsync(JsonObject service, string uid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        var spec = service["spec"] as JsonObject;
        if (spec is null || spec["type"]?.ToString() == "ExternalName")
        {
            return;
        }

        var name = service["metadata"]?["name"]?.ToString() ?? "";
        var owner = Owner(service, uid);
        var requested = spec["clusterIP"]?.ToString();
        if (requested != "None")
        {
            var ip = string.IsNullOrEmpty(requested)
                ? await ClaimFreeIpAsync(owner, cancellationToken).ConfigureAwait(false)
                : await ClaimIpAsync(requested, owner, name, cancellationToken).ConfigureAwait(false);
            spec["clusterIP"] = ip.ToString();
            spec["clusterIPs"] = new JsonArray(ip.ToString());
            spec["ipFamilies"] = new JsonArray("IPv4");
            spec["ipFamilyPolicy"] ??= "SingleStack";
        }

        await AllocateNodePortsAsync(service, uid, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Claims node ports for the ports of a NodePort or LoadBalancer Service that lack one.</summary>
    public async Task AllocateNodePortsAsync(JsonObject service, string uid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        var spec = service["spec"] as JsonObject;
        if (spec?["type"]?.ToString() is not ("NodePort" or "LoadBalancer"))
        {
            return;
        }

        var owner = Owner(service, uid);
        var name = service["metadata"]?["name"]?.ToString() ?? "";
        var ports = (spec["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i]["nodePort"] is JsonValue requested && requested.TryGetInt(out var port) && port != 0)
            {
                if (port < options.NodePortMin || port > options.NodePortMax)
                {
                    throw Invalid(name, $"spec.ports[{i}].nodePort", port, $"provided port is not in the valid range. The range of valid ports is {options.NodePortMin}-{options.NodePortMax}");
                }

                if (!await ClaimAsync(PortPrefix + port, owner, cancellationToken).ConfigureAwait(false))
                {
                    throw Invalid(name, $"spec.ports[{i}].nodePort", port, "provided port is already allocated");
                }

                continue;
            }

            ports[i]["nodePort"] = await ClaimFreePortAsync(owner, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gives back the claims of a deleted Service.</summary>
    public async Task ReleaseAsync(JsonObject service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        var uid = service["metadata"]?["uid"]?.ToString();
        if (uid is null)
        {
            return;
        }

        var keys = new List<string>();
        if (service["spec"]?["clusterIP"]?.ToString() is { Length: > 0 } ip && ip != "None")
        {
            keys.Add(IpPrefix + ip);
        }

        keys.AddRange((service["spec"]?["ports"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(p => p["nodePort"] is JsonValue)
            .Select(p => PortPrefix + p["nodePort"]));
        foreach (var key in keys)
        {
            if (await store.GetAsync(key, 0, cancellationToken).ConfigureAwait(false) is { } claim && ClaimUid(claim) == uid)
            {
                await store.DeleteAsync(key, claim.ModRevision, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<IPAddress> ClaimIpAsync(string requested, byte[] owner, string name, CancellationToken cancellationToken)
    {
        if (!IPAddress.TryParse(requested, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
        {
            throw Invalid(name, "spec.clusterIP", requested, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }

        if (!_network.Contains(ip))
        {
            throw Invalid(name, "spec.clusterIPs", requested, $"failed to allocate IP {requested}: provided IP is not in the valid range. The range of valid IPs is {options.ServiceCidr}");
        }

        return await ClaimAsync(IpPrefix + ip, owner, cancellationToken).ConfigureAwait(false)
            ? ip
            : throw Invalid(name, "spec.clusterIPs", requested, $"failed to allocate IP {requested}: provided IP is already allocated");
    }

    private async Task<IPAddress> ClaimFreeIpAsync(byte[] owner, CancellationToken cancellationToken)
    {
        var size = Ipv4.Size(_network);
        var taken = await TakenAsync(IpPrefix, cancellationToken).ConfigureAwait(false);

        // The first host address is the kubernetes service's; a random start spreads concurrent creates.
        var start = Random.Shared.NextInt64(2, size - 1);
        for (long i = 0; i < size - 3; i++)
        {
            var candidate = Offset(2 + ((start - 2 + i) % (size - 3)));
            if (!taken.Contains(candidate.ToString()) && await ClaimAsync(IpPrefix + candidate, owner, cancellationToken).ConfigureAwait(false))
            {
                return candidate;
            }
        }

        throw new ClusterApiException(500, "InternalError", $"the service IP range {options.ServiceCidr} is full");
    }

    private async Task<int> ClaimFreePortAsync(byte[] owner, CancellationToken cancellationToken)
    {
        var taken = await TakenAsync(PortPrefix, cancellationToken).ConfigureAwait(false);
        var count = options.NodePortMax - options.NodePortMin + 1;
        var start = Random.Shared.Next(count);
        for (var i = 0; i < count; i++)
        {
            var port = options.NodePortMin + ((start + i) % count);
            if (!taken.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture)) && await ClaimAsync(PortPrefix + port, owner, cancellationToken).ConfigureAwait(false))
            {
                return port;
            }
        }

        throw new ClusterApiException(500, "InternalError", $"the node port range {options.NodePortMin}-{options.NodePortMax} is full");
    }

    private async Task<HashSet<string>> TakenAsync(string prefix, CancellationToken cancellationToken)
    {
        var claims = await store.RangeAsync(new RangeRequest { Prefix = prefix }, cancellationToken).ConfigureAwait(false);
        return claims.Items.Select(kv => kv.Key[prefix.Length..]).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Takes a claim key; a claim whose Service no longer exists is taken over.</summary>
    private async Task<bool> ClaimAsync(string key, byte[] owner, CancellationToken cancellationToken)
    {
        var created = await store.CreateAsync(key, owner, 0, cancellationToken).ConfigureAwait(false);
        if (created.Succeeded)
        {
            return true;
        }

        var existing = created.Current ?? await store.GetAsync(key, 0, cancellationToken).ConfigureAwait(false);
        if (existing is not null && existing.Value.Span.SequenceEqual(owner))
        {
            // This Service's own claim (an update that keeps its address).
            return true;
        }

        if (existing is null || await ServiceExistsAsync(existing, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        return (await store.UpdateAsync(key, owner, existing.ModRevision, 0, cancellationToken).ConfigureAwait(false)).Succeeded;
    }

    private async Task<bool> ServiceExistsAsync(StateKeyValue claim, CancellationToken cancellationToken)
    {
        var parts = Encoding.UTF8.GetString(claim.Value.Span).Split('/');
        if (parts.Length != 3)
        {
            return true;
        }

        var service = await store.GetAsync($"/registry/core/services/{parts[0]}/{parts[1]}", 0, cancellationToken).ConfigureAwait(false);
        return service is not null && JsonNode.Parse(service.Value.Span)?["metadata"]?["uid"]?.ToString() == parts[2];
    }

    private static string? ClaimUid(StateKeyValue claim) => Encoding.UTF8.GetString(claim.Value.Span).Split('/') is [_, _, var uid] ? uid : null;

    private static byte[] Owner(JsonObject service, string uid) =>
        Encoding.UTF8.GetBytes($"{service["metadata"]?["namespace"]}/{service["metadata"]?["name"]}/{uid}");

    private IPAddress Offset(long offset) => Ipv4.AddressAt(_network, offset);

    private static InvalidException Invalid(string name, string field, object? value, string message) =>
        new("", "Service", name, [ObjectValidation.InvalidValue(field, value, message)]);
}
