using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Admission;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>ServiceAccount admission: a new pod runs as an existing ServiceAccount and gets the kube-api-access volume its in-cluster client reads.</summary>
[Trait("Category", "Unit")]
public sealed class ServiceAccountAdmissionTests
{
    private readonly LocalClusterClient _client;

    public ServiceAccountAdmissionTests()
    {
        var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null });
        _client = new LocalClusterClient(new ObjectRegistry(store, ResourceKindTable.CreateDefault(), TimeProvider.System)
        {
            Admission = new AdmissionChain([new ServiceAccountAdmission(store, TimeProvider.System)], []),
        });
    }

    [Fact]
    public async Task A_pod_runs_as_default_and_every_container_mounts_the_projected_token_volume()
    {
        await NamespaceAsync(withDefault: true);

        var created = await _client.CreateAsync(Pod("web", init: true));

        created.Spec.ServiceAccountName.Should().Be("default");
        var volume = created.Spec.Volumes.Should().ContainSingle().Subject;
        volume.Name.Should().MatchRegex("^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$");
        volume.Projected.DefaultMode.Should().Be(420);
        volume.Projected.Sources.Select(s => (s.ServiceAccountToken?.Path, s.ServiceAccountToken?.ExpirationSeconds)).First().Should().Be(("token", 3607L));
        volume.Projected.Sources[1].ConfigMap.Name.Should().Be("kube-root-ca.crt");
        volume.Projected.Sources[2].DownwardAPI.Items.Single().FieldRef.FieldPath.Should().Be("metadata.namespace");
        foreach (var container in created.Spec.InitContainers.Concat(created.Spec.Containers))
        {
            container.VolumeMounts.Should().ContainSingle(m => m.Name == volume.Name && m.MountPath == ServiceAccountAdmission.MountPath && m.ReadOnlyProperty == true);
        }
    }

    [Fact]
    public async Task AutomountServiceAccountToken_false_on_the_account_or_the_pod_mounts_nothing_and_the_pod_wins()
    {
        await NamespaceAsync(withDefault: false);
        await _client.CreateAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "quiet", NamespaceProperty = "team" }, AutomountServiceAccountToken = false, ImagePullSecrets = [new V1LocalObjectReference { Name = "registry" }] });

        var quiet = Pod("quiet-pod");
        quiet.Spec.ServiceAccountName = "quiet";
        var overridden = Pod("overridden");
        overridden.Spec.ServiceAccountName = "quiet";
        overridden.Spec.AutomountServiceAccountToken = true;

        var first = await _client.CreateAsync(quiet);
        var second = await _client.CreateAsync(overridden);

        first.Spec.Volumes.Should().BeNullOrEmpty();
        first.Spec.ImagePullSecrets.Should().ContainSingle().Which.Name.Should().Be("registry", "a pod without pull secrets gets its account's");
        second.Spec.Volumes.Should().ContainSingle().Which.Name.Should().StartWith("kube-api-access-");
    }

    [Fact]
    public async Task A_container_with_its_own_mount_at_the_path_keeps_it()
    {
        await NamespaceAsync(withDefault: true);
        var pod = Pod("own");
        pod.Spec.Volumes = [new V1Volume { Name = "mine", EmptyDir = new V1EmptyDirVolumeSource() }];
        pod.Spec.Containers[0].VolumeMounts = [new V1VolumeMount { Name = "mine", MountPath = ServiceAccountAdmission.MountPath }];

        var created = await _client.CreateAsync(pod);

        created.Spec.Volumes.Should().ContainSingle().Which.Name.Should().Be("mine", "no container needs the token volume");
    }

    [Fact]
    public async Task A_missing_service_account_refuses_the_pod_in_kube_apiservers_words()
    {
        await NamespaceAsync(withDefault: true);
        var pod = Pod("orphan");
        pod.Spec.ServiceAccountName = "ghost";

        var refused = await ((Func<Task>)(() => _client.CreateAsync(pod))).Should().ThrowAsync<ForbiddenException>();

        refused.Which.Message.Should().Be("pods \"orphan\" is forbidden: error looking up service account team/ghost: serviceaccount \"ghost\" not found");
        (await _client.ListAsync<V1Pod>("team")).Items.Should().BeEmpty();
    }

    [Fact]
    public async Task The_default_account_made_just_after_the_namespace_is_waited_for()
    {
        await NamespaceAsync(withDefault: false);

        var creating = _client.CreateAsync(Pod("early"));
        await _client.CreateAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "default", NamespaceProperty = "team" } });
        var created = await creating;

        created.Spec.ServiceAccountName.Should().Be("default");
    }

    private async Task NamespaceAsync(bool withDefault)
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        if (withDefault)
        {
            await _client.CreateAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "default", NamespaceProperty = "team" } });
        }
    }

    private static V1Pod Pod(string name, bool init = false) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team" },
        Spec = new V1PodSpec
        {
            InitContainers = init ? [new V1Container { Name = "setup", Image = "busybox" }] : null,
            Containers = [new V1Container { Name = "main", Image = "busybox" }],
        },
    };
}
