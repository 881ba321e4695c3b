using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.ApiServer.Patching;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;
using Orchestration.Dns;
using Orchestration.Dns.Transport;
using Orchestration.Resources;
using Orchestration.Resources.Patching;
using Orchestration.State;

namespace Orchestration.Fuzzing;

/// <summary>
/// What each fuzz target feeds its input to: the code a request body or a DNS query reaches. A
/// target returns normally for any input the code refuses the way it should (a Status error: 400,
/// 404, 409, 415, 422; a DNS error code); anything else it throws is a finding (an API server would
/// answer 500, or a DNS server drop the query). The result says whether the input was accepted
/// (created, patched, answered without an error code), so that a corpus can be seen to reach past the parsers.
/// </summary>
internal static class FuzzTargets
{
    // Made on first use: under afl the project's code is instrumented and may only run once the
    // fork server has set up the coverage map, inside the fuzzing loop.
    private static readonly Lazy<ObjectRegistry> Registry = new(CreateRegistry);
    private static readonly Lazy<DnsQueryHandler> Dns = new(CreateDnsHandler);

    /// <summary>The targets by name.</summary>
    public static IReadOnlyDictionary<string, Func<byte[], bool>> All { get; } = new Dictionary<string, Func<byte[], bool>>(StringComparer.Ordinal)
    {
        ["json"] = body => Expect(() => CreateAsync(RequestBodies.ParseObject(body, yaml: false))),
        ["yaml"] = body => Expect(() => CreateAsync(RequestBodies.ParseObject(body, yaml: true))),
        ["protobuf"] = body => Expect(() => CreateAsync(ProtobufObjects.Decode(body))),
        ["json-patch"] = body => Expect(() => PatchAsync(PatchKind.Json, body)),
        ["merge-patch"] = body => Expect(() => PatchAsync(PatchKind.Merge, body)),
        ["strategic-merge-patch"] = body => Expect(() => PatchAsync(PatchKind.StrategicMerge, body)),
        ["apply"] = body => Expect(() => PatchAsync(PatchKind.Apply, body)),
        ["dns"] = body => Dns.Value.HandleAsync(new ArraySegment<byte>(body), udp: true, CancellationToken.None).AsTask().GetAwaiter().GetResult() is { } response
            && response.ToArraySegment(false) is { Count: >= 4 } bytes && (bytes[3] & 0x0F) == 0,
    };

    // A decoded body goes where the API server sends it: a create (dry run) of its kind, or a pod's
    // when it names none the registry serves, through defaults, admission and validation.
    private static Task CreateAsync(JsonObject obj)
    {
        var kind = obj["kind"]?.ToString() == "Deployment" ? Registry.Value.Kinds.Find("apps", "deployments")! : Registry.Value.Kinds.Find("", "pods")!;
        return Registry.Value.CreateAsync(kind, "default", obj, new WriteOptions { DryRun = true }, CancellationToken.None);
    }

    private static Task PatchAsync(PatchKind kind, byte[] body) =>
        Registry.Value.PatchAsync(Registry.Value.Kinds.Find("", "pods")!, "default", "web", new ObjectPatch(kind, Encoding.UTF8.GetString(body), FieldManager: "fuzz", Force: true), statusOnly: false, new WriteOptions { DryRun = true }, CancellationToken.None);

    private static bool Expect(Func<Task> action)
    {
        try
        {
            action().GetAwaiter().GetResult();
            return true;
        }
        catch (ClusterApiException)
        {
            // Refused with a Status, as the API server should refuse bad input.
            return false;
        }
    }

    private static ObjectRegistry CreateRegistry()
    {
        var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null });
        var patchers = ObjectPatchers.CreateDefault().Add(new JsonPatcher()).Add(new ApplyPatcher(TimeProvider.System));
        var registry = new ObjectRegistry(store, ResourceKindTable.CreateDefault(), TimeProvider.System) { Patchers = patchers };
        var client = new LocalClusterClient(registry);
        client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } }).GetAwaiter().GetResult();
        client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = "web" } },
            Spec = new V1PodSpec
            {
                Containers =
                [
                    new V1Container { Name = "main", Image = "busybox", Ports = [new V1ContainerPort { ContainerPort = 80, Name = "http" }], Env = [new V1EnvVar { Name = "A", Value = "1" }] },
                    new V1Container { Name = "side", Image = "busybox" },
                ],
                Volumes = [new V1Volume { Name = "data", EmptyDir = new V1EmptyDirVolumeSource() }],
            },
        }).GetAwaiter().GetResult();
        return registry;
    }

    private static DnsQueryHandler CreateDnsHandler()
    {
        var zone = new ClusterDnsZone(new ClusterDnsOptions());
        zone.SetService(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "10.96.0.20", ClusterIPs = ["10.96.0.20"], Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
        });
        zone.SetService(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "db", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "None", Ports = [new V1ServicePort { Name = "sql", Port = 5432, Protocol = "TCP" }] },
        });
        zone.SetEndpointSlice(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "db-1", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "db" } },
            AddressType = "IPv4",
            Endpoints = [new V1Endpoint { Addresses = ["10.244.0.5"], Hostname = "db-0", Conditions = new V1EndpointConditions { Ready = true } }],
            Ports = [new Discoveryv1EndpointPort { Name = "sql", Port = 5432, Protocol = "TCP" }],
        });
        return new DnsQueryHandler(zone, upstream: null, maxUdpPayloadSize: 1232, NullLogger.Instance);
    }
}
