using System.Text;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Resources;
using Orchestration.Runtime;
using Orchestration.Scheduling;
using Orchestration.State;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>Pod volumes on the node's disk, and the mounts of containers into them.</summary>
[Trait("Category", "Unit")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PodVolumesTests : IAsyncLifetime
{
    private static readonly UnixFileMode Mode0644 = (UnixFileMode)420;

    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly string _root = Directory.CreateTempSubdirectory("orch-volumes-").FullName;
    private readonly LocalClusterClient _client;
    private readonly RecordingTokens _tokens;
    private readonly PodVolumes _volumes;

    public PodVolumesTests()
    {
        _tokens = new RecordingTokens(_time);
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        _volumes = new PodVolumes(_client, _tokens, Path.Combine(_root, "pods"), new ResourceAmounts(2000, 4L << 30), _time, NullLogger.Instance);
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await _client.CreateAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "web-config", NamespaceProperty = "default" },
            Data = new Dictionary<string, string> { ["index.html"] = "<h1>hi</h1>", ["app.conf"] = "port=80" },
            BinaryData = new Dictionary<string, byte[]> { ["logo.bin"] = [0, 1, 254, 255] },
        });
        await _client.CreateAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "tls", NamespaceProperty = "default" },
            Data = new Dictionary<string, byte[]> { ["key.pem"] = [0, 159, 146, 150, 255], ["user"] = Encoding.UTF8.GetBytes("admin") },
        });
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task An_empty_dir_lives_under_the_pods_directory_and_keeps_its_content_when_set_up_again()
    {
        var pod = Pod(new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() });

        var first = await _volumes.SetUpAsync(pod, CancellationToken.None);
        var path = first["scratch"].HostPath;
        await File.WriteAllTextAsync(Path.Combine(path, "kept.txt"), "data");
        var second = await _volumes.SetUpAsync(pod, CancellationToken.None);

        path.Should().Be(Path.Combine(_root, "pods", "uid-1", "volumes", "kubernetes.io~empty-dir", "scratch"));
        first["scratch"].ReadOnly.Should().BeFalse();
        File.GetUnixFileMode(path).Should().Be((UnixFileMode)511, "kubelet makes an emptyDir world-writable");
        second.Should().BeEquivalentTo(first);
        (await File.ReadAllTextAsync(Path.Combine(path, "kept.txt"))).Should().Be("data");
    }

    [Fact]
    public async Task A_configMap_volume_has_a_file_per_key_with_the_default_mode_reached_through_the_data_link()
    {
        var pod = Pod(new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "web-config", DefaultMode = 256 } });

        var volume = (await _volumes.SetUpAsync(pod, CancellationToken.None))["cfg"];

        volume.ReadOnly.Should().BeTrue("configMap volumes are always mounted read-only");
        (await File.ReadAllTextAsync(Path.Combine(volume.HostPath, "index.html"))).Should().Be("<h1>hi</h1>");
        (await File.ReadAllTextAsync(Path.Combine(volume.HostPath, "app.conf"))).Should().Be("port=80");
        (await File.ReadAllBytesAsync(Path.Combine(volume.HostPath, "logo.bin"))).Should().Equal(0, 1, 254, 255);
        new FileInfo(Path.Combine(volume.HostPath, "index.html")).LinkTarget.Should().Be("..data/index.html");
        File.GetUnixFileMode(Path.Combine(volume.HostPath, "..data", "index.html")).Should().Be((UnixFileMode)256, "defaultMode 0400");
    }

    [Fact]
    public async Task Items_project_only_the_listed_keys_under_their_paths_and_modes()
    {
        var pod = Pod(new V1Volume
        {
            Name = "cfg",
            ConfigMap = new V1ConfigMapVolumeSource
            {
                Name = "web-config",
                Items = [new V1KeyToPath { Key = "app.conf", Path = "etc/app/app.conf", Mode = 384 }, new V1KeyToPath { Key = "index.html", Path = "index" }],
            },
        });

        var path = (await _volumes.SetUpAsync(pod, CancellationToken.None))["cfg"].HostPath;

        (await File.ReadAllTextAsync(Path.Combine(path, "etc", "app", "app.conf"))).Should().Be("port=80");
        File.GetUnixFileMode(Path.Combine(path, "..data", "etc", "app", "app.conf")).Should().Be((UnixFileMode)384, "the item's mode 0600 wins");
        File.GetUnixFileMode(Path.Combine(path, "..data", "index")).Should().Be(Mode0644, "the API's default mode is 0644");
        Directory.EnumerateFileSystemEntries(path).Select(Path.GetFileName).Where(n => !n!.StartsWith("..", StringComparison.Ordinal))
            .Should().BeEquivalentTo("etc", "index");
    }

    [Fact]
    public async Task A_changed_configMap_is_switched_in_whole_and_removed_keys_disappear()
    {
        var pod = Pod(new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "web-config" } });
        var path = (await _volumes.SetUpAsync(pod, CancellationToken.None))["cfg"].HostPath;
        var firstVersion = new FileInfo(Path.Combine(path, "..data")).LinkTarget;
        var configMap = await _client.GetAsync<V1ConfigMap>("default", "web-config");
        configMap.Data = new Dictionary<string, string> { ["index.html"] = "<h1>new</h1>" };
        configMap.BinaryData = null;
        await _client.UpdateAsync(configMap);
        _time.Advance(TimeSpan.FromSeconds(5));

        await _volumes.SetUpAsync(pod, CancellationToken.None);

        (await File.ReadAllTextAsync(Path.Combine(path, "index.html"))).Should().Be("<h1>new</h1>");
        File.Exists(Path.Combine(path, "app.conf")).Should().BeFalse("a key no longer in the ConfigMap goes");
        new FileInfo(Path.Combine(path, "..data")).LinkTarget.Should().NotBe(firstVersion);
        Directory.Exists(Path.Combine(path, firstVersion!)).Should().BeFalse("the old version is removed");
    }

    [Fact]
    public async Task A_secret_volume_holds_the_decoded_bytes()
    {
        var pod = Pod(new V1Volume { Name = "certs", Secret = new V1SecretVolumeSource { SecretName = "tls", Items = [new V1KeyToPath { Key = "key.pem", Path = "tls.key" }] } });

        var volume = (await _volumes.SetUpAsync(pod, CancellationToken.None))["certs"];

        volume.HostPath.Should().Be(Path.Combine(_root, "pods", "uid-1", "volumes", "kubernetes.io~secret", "certs"));
        volume.ReadOnly.Should().BeTrue();
        (await File.ReadAllBytesAsync(Path.Combine(volume.HostPath, "tls.key"))).Should().Equal(0, 159, 146, 150, 255);
        File.Exists(Path.Combine(volume.HostPath, "user")).Should().BeFalse("only the listed item is projected");
    }

    [Fact]
    public async Task A_downward_api_volume_writes_pod_fields_and_container_resources()
    {
        var pod = Pod(new V1Volume
        {
            Name = "info",
            DownwardAPI = new V1DownwardAPIVolumeSource
            {
                Items =
                [
                    new V1DownwardAPIVolumeFile { Path = "labels", FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.labels" } },
                    new V1DownwardAPIVolumeFile { Path = "name", FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } },
                    new V1DownwardAPIVolumeFile { Path = "mem", ResourceFieldRef = new V1ResourceFieldSelector { ContainerName = "app", Resource = "limits.memory", Divisor = new ResourceQuantity("1Gi") } },
                ],
            },
        });

        var path = (await _volumes.SetUpAsync(pod, CancellationToken.None))["info"].HostPath;

        (await File.ReadAllTextAsync(Path.Combine(path, "labels"))).Should().Be("app=\"web\"");
        (await File.ReadAllTextAsync(Path.Combine(path, "name"))).Should().Be("web");
        (await File.ReadAllTextAsync(Path.Combine(path, "mem"))).Should().Be("4", "no limit: the node's allocatable");
    }

    [Theory]
    [InlineData("configMap", "MountVolume.SetUp failed for volume \"v\" : configmap \"absent\" not found")]
    [InlineData("configMapKey", "MountVolume.SetUp failed for volume \"v\" : configmap references non-existent config key: absent")]
    [InlineData("secret", "MountVolume.SetUp failed for volume \"v\" : secret \"absent\" not found")]
    [InlineData("secretKey", "MountVolume.SetUp failed for volume \"v\" : references non-existent secret key: absent")]
    [InlineData("pvc", "MountVolume.SetUp failed for volume \"v\" : volume type persistentVolumeClaim is not supported by this node agent (emptyDir, hostPath, configMap, secret, downwardAPI and projected are)")]
    public async Task A_volume_that_cannot_be_set_up_fails_with_kubelets_FailedMount_message(string kind, string message)
    {
        var volume = new V1Volume { Name = "v" };
        switch (kind)
        {
            case "configMap":
                volume.ConfigMap = new V1ConfigMapVolumeSource { Name = "absent" };
                break;
            case "configMapKey":
                volume.ConfigMap = new V1ConfigMapVolumeSource { Name = "web-config", Items = [new V1KeyToPath { Key = "absent", Path = "a" }] };
                break;
            case "secret":
                volume.Secret = new V1SecretVolumeSource { SecretName = "absent" };
                break;
            case "secretKey":
                volume.Secret = new V1SecretVolumeSource { SecretName = "tls", Items = [new V1KeyToPath { Key = "absent", Path = "a" }] };
                break;
            default:
                volume.PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "data" };
                break;
        }

        var act = () => _volumes.SetUpAsync(Pod(volume), CancellationToken.None);

        (await act.Should().ThrowAsync<VolumeSetUpException>()).Which.Message.Should().Be(message);
    }

    [Fact]
    public async Task Optional_configMap_and_secret_volumes_that_are_missing_are_empty()
    {
        var pod = Pod(
            new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "absent", Optional = true } },
            new V1Volume { Name = "sec", Secret = new V1SecretVolumeSource { SecretName = "tls", Optional = true, Items = [new V1KeyToPath { Key = "absent", Path = "a" }] } });

        var volumes = await _volumes.SetUpAsync(pod, CancellationToken.None);

        Directory.EnumerateFiles(volumes["cfg"].HostPath).Should().BeEmpty();
        Directory.EnumerateFiles(volumes["sec"].HostPath).Should().BeEmpty();
    }

    [Fact]
    public async Task HostPath_types_create_what_is_missing_or_require_what_is_named()
    {
        var made = Path.Combine(_root, "host", "made", "deep");
        var file = Path.Combine(_root, "host-file");
        var existing = Directory.CreateDirectory(Path.Combine(_root, "existing")).FullName;

        var volumes = await _volumes.SetUpAsync(
            Pod(HostPath("dir", made, "DirectoryOrCreate"), HostPath("file", file, "FileOrCreate"), HostPath("plain", Path.Combine(_root, "nothing"), null), HostPath("existing", existing, "Directory")),
            CancellationToken.None);

        volumes["dir"].Should().Be(new PodVolume(made, false));
        Directory.Exists(made).Should().BeTrue();
        File.GetUnixFileMode(made).Should().Be((UnixFileMode)493, "kubelet creates it 0755");
        File.Exists(file).Should().BeTrue();
        File.GetUnixFileMode(file).Should().Be(Mode0644);
        Directory.Exists(Path.Combine(_root, "nothing")).Should().BeFalse("no type checks nothing and creates nothing");
        volumes["existing"].HostPath.Should().Be(existing);
    }

    [Theory]
    [InlineData("Directory", "missing-dir", "hostPath type check failed: {0} is not a directory")]
    [InlineData("Directory", "a-file", "hostPath type check failed: {0} is not a directory")]
    [InlineData("DirectoryOrCreate", "a-file", "hostPath type check failed: {0} is not a directory")]
    [InlineData("File", "missing-file", "hostPath type check failed: {0} is not a file")]
    [InlineData("FileOrCreate", "a-dir", "hostPath type check failed: {0} is not a file")]
    [InlineData("FileOrCreate", "no-parent/file", "open {0}: no such file or directory")]
    public async Task A_hostPath_that_fails_its_type_check_is_not_set_up(string type, string name, string message)
    {
        await File.WriteAllTextAsync(Path.Combine(_root, "a-file"), "x");
        Directory.CreateDirectory(Path.Combine(_root, "a-dir"));
        var path = Path.Combine(_root, name);

        var act = () => _volumes.SetUpAsync(Pod(HostPath("h", path, type)), CancellationToken.None);

        (await act.Should().ThrowAsync<VolumeSetUpException>()).Which.Message.Should().Be($"MountVolume.SetUp failed for volume \"h\" : {string.Format(System.Globalization.CultureInfo.InvariantCulture, message, path)}");
        File.Exists(path).Should().Be(name == "a-file");
    }

    [Fact]
    public async Task Removing_a_pod_removes_its_volumes_but_never_a_hostPaths_content()
    {
        var host = Directory.CreateDirectory(Path.Combine(_root, "host-data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(host, "keep.txt"), "x");
        var pod = Pod(new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() }, HostPath("h", host, "Directory"));
        var volumes = await _volumes.SetUpAsync(pod, CancellationToken.None);

        // A link a container made inside its emptyDir, to the node's data: removing the pod must not follow it.
        File.CreateSymbolicLink(Path.Combine(volumes["scratch"].HostPath, "escape"), host);
        _volumes.Remove("uid-1");

        Directory.Exists(Path.Combine(_root, "pods", "uid-1")).Should().BeFalse();
        File.Exists(Path.Combine(host, "keep.txt")).Should().BeTrue();
    }

    [Fact]
    public async Task Orphaned_pod_directories_are_swept_and_known_ones_kept()
    {
        await _volumes.SetUpAsync(Pod(new V1Volume { Name = "a", EmptyDir = new V1EmptyDirVolumeSource() }), CancellationToken.None);
        var other = Pod(new V1Volume { Name = "a", EmptyDir = new V1EmptyDirVolumeSource() });
        other.Metadata.Uid = "uid-gone";
        await _volumes.SetUpAsync(other, CancellationToken.None);

        _volumes.RemoveOrphans(() => new HashSet<string> { "uid-1" });

        Directory.Exists(Path.Combine(_root, "pods", "uid-1")).Should().BeTrue();
        Directory.Exists(Path.Combine(_root, "pods", "uid-gone")).Should().BeFalse();
    }

    [Fact]
    public async Task A_pod_without_volumes_writes_nothing()
    {
        (await _volumes.SetUpAsync(Pod(), CancellationToken.None)).Should().BeEmpty();

        Directory.Exists(Path.Combine(_root, "pods")).Should().BeFalse();
    }

    [Fact]
    public async Task Mounts_bind_volumes_and_subPaths_and_are_read_only_when_asked_or_when_the_volume_is()
    {
        var pod = Pod(new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() }, new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "web-config" } });
        var volumes = await _volumes.SetUpAsync(pod, CancellationToken.None);
        var scratch = volumes["scratch"].HostPath;
        var container = new V1Container
        {
            Name = "app",
            VolumeMounts =
            [
                new V1VolumeMount { Name = "scratch", MountPath = "/data" },
                new V1VolumeMount { Name = "scratch", MountPath = "/logs", SubPath = "logs/app", ReadOnlyProperty = true },
                new V1VolumeMount { Name = "scratch", MountPath = "/mine", SubPathExpr = "by-pod/$(POD_NAME)" },
                new V1VolumeMount { Name = "cfg", MountPath = "/usr/share/html/index.html", SubPath = "index.html" },
            ],
        };

        var mounts = ContainerMounts.For(container, volumes, new Dictionary<string, string> { ["POD_NAME"] = "web" });

        mounts.Should().Equal(
            new ContainerMount("/data", scratch, false),
            new ContainerMount("/logs", Path.Combine(scratch, "logs", "app"), true),
            new ContainerMount("/mine", Path.Combine(scratch, "by-pod", "web"), false),
            new ContainerMount("/usr/share/html/index.html", Path.Combine(volumes["cfg"].HostPath, new FileInfo(Path.Combine(volumes["cfg"].HostPath, "..data")).LinkTarget!, "index.html"), true));
        Directory.Exists(Path.Combine(scratch, "logs", "app")).Should().BeTrue("a missing subPath is created");
    }

    [Theory]
    [InlineData("/etc", null, "error SubPath `/etc` must not be an absolute path")]
    [InlineData("a/../../etc", null, "unable to provision SubPath `a/../../etc`: must not contain '..'")]
    [InlineData(null, "$(MISSING)/$(EMPTY)", "missing value for EMPTY, MISSING")]
    [InlineData("escape/passwd", null, "subpath \"escape/passwd\" not within volume path \"{0}\"")]
    [InlineData("up", null, "subpath \"up\" not within volume path \"{0}\"")]
    public async Task A_subPath_cannot_leave_its_volume(string? subPath, string? subPathExpr, string message)
    {
        var volumes = await _volumes.SetUpAsync(Pod(new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() }), CancellationToken.None);
        var scratch = volumes["scratch"].HostPath;

        // Links a container could have made in its emptyDir.
        File.CreateSymbolicLink(Path.Combine(scratch, "escape"), "/etc");
        File.CreateSymbolicLink(Path.Combine(scratch, "up"), "..");
        var container = new V1Container { Name = "app", VolumeMounts = [new V1VolumeMount { Name = "scratch", MountPath = "/x", SubPath = subPath, SubPathExpr = subPathExpr }] };

        var act = () => ContainerMounts.For(container, volumes, new Dictionary<string, string> { ["EMPTY"] = "" });

        act.Should().Throw<ContainerConfigException>().WithMessage(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, scratch));
    }

    [Fact]
    public void A_mount_of_a_volume_the_pod_does_not_have_fails()
    {
        var container = new V1Container { Name = "app", VolumeMounts = [new V1VolumeMount { Name = "nope", MountPath = "/x" }] };

        var act = () => ContainerMounts.For(container, new Dictionary<string, PodVolume>(), new Dictionary<string, string>());

        act.Should().Throw<ContainerConfigException>().WithMessage("cannot find volume \"nope\" to mount into container \"app\"");
    }

    [Fact]
    public async Task A_projected_volume_holds_a_token_bound_to_the_pod_the_configMap_key_and_the_namespace()
    {
        await _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "kube-root-ca.crt", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["ca.crt"] = "PEM" } });
        var pod = Pod(KubeApiAccess());
        pod.Spec.ServiceAccountName = "robot";

        var volume = (await _volumes.SetUpAsync(pod, CancellationToken.None))["kube-api-access-abcde"];

        volume.ReadOnly.Should().BeTrue();
        volume.HostPath.Should().Be(Path.Combine(_root, "pods", "uid-1", "volumes", "kubernetes.io~projected", "kube-api-access-abcde"));
        (await File.ReadAllTextAsync(Path.Combine(volume.HostPath, "token"))).Should().Be("token-1");
        (await File.ReadAllTextAsync(Path.Combine(volume.HostPath, "ca.crt"))).Should().Be("PEM");
        (await File.ReadAllTextAsync(Path.Combine(volume.HostPath, "namespace"))).Should().Be("default");
        File.GetUnixFileMode(Path.Combine(volume.HostPath, "..data", "token")).Should().Be(Mode0644);
        var (ns, account, request) = _tokens.Requests.Should().ContainSingle().Subject;
        (ns, account).Should().Be(("default", "robot"));
        request.Audiences.Should().BeEmpty("the API server's own audience");
        (request.ExpirationSeconds, request.BoundPodName, request.BoundPodUid).Should().Be((3607L, "web", "uid-1"));
    }

    [Fact]
    public async Task A_projected_token_is_asked_for_again_after_80_percent_of_its_lifetime()
    {
        await _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "kube-root-ca.crt", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["ca.crt"] = "PEM" } });
        var pod = Pod(KubeApiAccess());

        var volume = (await _volumes.SetUpAsync(pod, CancellationToken.None))["kube-api-access-abcde"];

        _volumes.TokenRefreshDue("uid-1").Should().Be(_time.GetUtcNow() + TimeSpan.FromSeconds(3607 * 0.8));
        _time.Advance(TimeSpan.FromSeconds(3607 * 0.8));
        await _volumes.SetUpAsync(pod, CancellationToken.None);
        (await File.ReadAllTextAsync(Path.Combine(volume.HostPath, "token"))).Should().Be("token-2", "the file is switched to the new token");
        _volumes.Remove("uid-1");
        _volumes.TokenRefreshDue("uid-1").Should().BeNull();
    }

    [Fact]
    public async Task A_projected_volume_whose_configMap_is_missing_fails_with_kubelets_message()
    {
        var act = () => _volumes.SetUpAsync(Pod(KubeApiAccess()), CancellationToken.None);

        await act.Should().ThrowAsync<VolumeSetUpException>().WithMessage("*configmap \"kube-root-ca.crt\" not found*");
    }

    private static V1Volume KubeApiAccess() => new()
    {
        Name = "kube-api-access-abcde",
        Projected = new V1ProjectedVolumeSource
        {
            DefaultMode = 420,
            Sources =
            [
                new V1VolumeProjection { ServiceAccountToken = new V1ServiceAccountTokenProjection { ExpirationSeconds = 3607, Path = "token" } },
                new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = "kube-root-ca.crt", Items = [new V1KeyToPath { Key = "ca.crt", Path = "ca.crt" }] } },
                new V1VolumeProjection { DownwardAPI = new V1DownwardAPIProjection { Items = [new V1DownwardAPIVolumeFile { Path = "namespace", FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } }] } },
            ],
        },
    };

    /// <summary>Issues "token-1", "token-2", ... each valid for the lifetime asked, and records what was asked.</summary>
    private sealed class RecordingTokens(TimeProvider time) : IServiceAccountTokenClient
    {
        public List<(string Namespace, string Account, ServiceAccountTokenRequest Request)> Requests { get; } = [];

        public Task<ServiceAccountToken> RequestTokenAsync(string @namespace, string serviceAccount, ServiceAccountTokenRequest request, CancellationToken cancellationToken = default)
        {
            Requests.Add((@namespace, serviceAccount, request));
            return Task.FromResult(new ServiceAccountToken($"token-{Requests.Count}", time.GetUtcNow() + TimeSpan.FromSeconds(request.ExpirationSeconds)));
        }
    }

    private static V1Volume HostPath(string name, string path, string? type) => new() { Name = name, HostPath = new V1HostPathVolumeSource { Path = path, Type = type } };

    private static V1Pod Pod(params V1Volume[] volumes) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Uid = "uid-1", Labels = new Dictionary<string, string> { ["app"] = "web" } },
        Spec = new V1PodSpec { NodeName = "n1", Containers = [new V1Container { Name = "app", Image = "busybox" }], Volumes = volumes },
    };
}
