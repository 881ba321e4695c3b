using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.State;
using Xunit;
using FluentAssertions;

namespace Orchestration.TestKit.Conformance;

/// <summary>What any <see cref="IClusterClient"/> must do, local or remote.</summary>
/// <param name="Client">The client under test.</param>
/// <param name="Store">The store behind the cluster, to check what was (not) stored and to compact.</param>
/// <param name="Owner">Disposed after the test: the server, the store, the client.</param>
public sealed record ClusterClientHarness(IClusterClient Client, IStateStore Store, IAsyncDisposable Owner);

/// <summary>
/// The object rules every <see cref="IClusterClient"/> keeps, with the same errors: the local one
/// over the registry and the remote one over HTTP run these same tests.
/// </summary>
[Trait("Category", "Unit")]
public abstract class ClusterClientConformanceTests : IAsyncLifetime
{
    private ClusterClientHarness? _harness;

    /// <summary>The clock the cluster under test runs on.</summary>
    protected FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    private IClusterClient Client => _harness!.Client;

    private IStateStore Store => _harness!.Store;

    /// <summary>Starts a cluster on <paramref name="clock"/> and a client of it.</summary>
    protected abstract Task<ClusterClientHarness> StartAsync(FakeTimeProvider clock);

    public async Task InitializeAsync()
    {
        _harness = await StartAsync(Clock);
        foreach (var ns in new[] { "default", "prod" })
        {
            await Client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        }
    }

    public async Task DisposeAsync()
    {
        if (_harness is not null)
        {
            await _harness.Owner.DisposeAsync();
        }
    }

    private static V1Pod Pod(string name, IDictionary<string, string>? labels = null, string? node = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = labels },
        Spec = new V1PodSpec { NodeName = node, Containers = [new V1Container { Name = "main", Image = "busybox" }] },
    };

    [Fact]
    public async Task CreateStores_under_the_registry_key_and_sets_server_fields()
    {
        var created = await Client.CreateAsync(Pod("web"));

        created.Metadata.Uid.Should().NotBeNullOrEmpty();
        created.Metadata.CreationTimestamp.Should().Be(Clock.GetUtcNow().UtcDateTime);
        created.Metadata.Generation.Should().Be(1);
        created.ApiVersion.Should().Be("v1");
        created.Kind.Should().Be("Pod");
        var stored = await Store.GetAsync("/registry/core/pods/default/web");
        stored.Should().NotBeNull();
        created.Metadata.ResourceVersion.Should().Be(stored!.ModRevision.ToString());
        System.Text.Encoding.UTF8.GetString(stored.Value.Span).Should().NotContain("resourceVersion", "the resource version is the store's revision, not stored data");

        var labels = new Dictionary<string, string> { ["app"] = "d" };
        var deployment = await Client.CreateAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "d", NamespaceProperty = "prod" },
            Spec = new V1DeploymentSpec { Selector = new V1LabelSelector { MatchLabels = labels }, Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = labels }, Spec = Pod("x").Spec } },
        });
        deployment.ApiVersion.Should().Be("apps/v1");
        (await Store.GetAsync("/registry/apps/deployments/prod/d")).Should().NotBeNull();
        await Client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "staging" } });
        (await Store.GetAsync("/registry/core/namespaces/staging")).Should().NotBeNull();
    }

    [Fact]
    public async Task Creating_an_existing_name_is_already_exists_409()
    {
        await Client.CreateAsync(Pod("web"));

        var thrown = await Client.Invoking(c => c.CreateAsync(Pod("web"))).Should().ThrowAsync<AlreadyExistsException>();

        thrown.Which.Code.Should().Be(409);
        thrown.Which.Message.Should().Be("pods \"web\" already exists");
        thrown.Which.ToStatus().Reason.Should().Be("AlreadyExists");
    }

    [Fact]
    public async Task Generate_name_gets_a_random_suffix()
    {
        var pod = Pod("");
        pod.Metadata.Name = null;
        pod.Metadata.GenerateName = "web-";

        var created = await Client.CreateAsync(pod);

        created.Metadata.Name.Should().MatchRegex("^web-[bcdfghjklmnpqrstvwxz2456789]{5}$");
    }

    [Theory]
    [InlineData("Web", "metadata.name")]
    [InlineData("-web", "metadata.name")]
    [InlineData("", "metadata.name")]
    [InlineData("web_1", "metadata.name")]
    public async Task An_invalid_name_is_invalid_422_with_the_field_and_nothing_isStored(string name, string field)
    {
        var thrown = await Client.Invoking(c => c.CreateAsync(Pod(name))).Should().ThrowAsync<InvalidException>();

        thrown.Which.Code.Should().Be(422);
        thrown.Which.Causes.Should().ContainSingle(c => c.Field == field);
        (await Store.RangeAsync(new RangeRequest { Prefix = "/registry/core/pods/" })).Items.Should().BeEmpty();
    }

    [Fact]
    public async Task Namespace_and_service_names_are_dns_labels_so_dots_are_invalid()
    {
        await Client.Invoking(c => c.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "a.b" } })).Should().ThrowAsync<InvalidException>();
        await Client.Invoking(c => c.CreateAsync(new V1Service { Metadata = new V1ObjectMeta { Name = "a.b" } })).Should().ThrowAsync<InvalidException>();
        (await Client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "a.b" } })).Metadata.Name.Should().Be("a.b");
    }

    [Fact]
    public async Task An_update_with_a_stale_resource_version_is_a_conflict_and_without_one_it_applies()
    {
        var created = await Client.CreateAsync(Pod("web"));
        var first = await Client.GetAsync<V1Pod>("default", "web");
        first.Metadata.Labels = new Dictionary<string, string> { ["v"] = "1" };
        await Client.UpdateAsync(first);

        var stale = await Client.GetAsync<V1Pod>("default", "web");
        stale.Metadata.ResourceVersion = created.Metadata.ResourceVersion;
        stale.Metadata.Labels = new Dictionary<string, string> { ["v"] = "stale" };
        var thrown = await Client.Invoking(c => c.UpdateAsync(stale)).Should().ThrowAsync<ConflictException>();
        thrown.Which.Message.Should().Be("Operation cannot be fulfilled on pods \"web\": the object has been modified; please apply your changes to the latest version and try again");
        (await Client.GetAsync<V1Pod>("default", "web")).Metadata.Labels["v"].Should().Be("1");

        stale.Metadata.ResourceVersion = null;
        (await Client.UpdateAsync(stale)).Metadata.Labels["v"].Should().Be("stale");
    }

    [Fact]
    public async Task Generation_counts_spec_changes_only_and_the_main_update_keeps_status()
    {
        var created = await Client.CreateAsync(Pod("web"));
        var status = await Client.GetAsync<V1Pod>("default", "web");
        status.Status = new V1PodStatus { Phase = "Running" };
        status.Spec.NodeName = "ignored-by-status-update";
        var afterStatus = await Client.UpdateStatusAsync(status);
        afterStatus.Status.Phase.Should().Be("Running");
        afterStatus.Spec.NodeName.Should().BeNull("a status update changes only the status");
        afterStatus.Metadata.Generation.Should().Be(1);

        var relabel = await Client.GetAsync<V1Pod>("default", "web");
        relabel.Metadata.Labels = new Dictionary<string, string> { ["a"] = "b" };
        relabel.Status = new V1PodStatus { Phase = "Failed" };
        var relabeled = await Client.UpdateAsync(relabel);
        relabeled.Metadata.Generation.Should().Be(1);
        relabeled.Status.Phase.Should().Be("Running", "the main update keeps the status subresource");

        relabeled.Spec.Containers[0].Image = "busybox:2";
        var changed = await Client.UpdateAsync(relabeled);
        changed.Metadata.Generation.Should().Be(2);
        changed.Metadata.Uid.Should().Be(created.Metadata.Uid);
        changed.Metadata.CreationTimestamp.Should().Be(created.Metadata.CreationTimestamp);
    }

    [Theory]
    [InlineData("app=web", "a,b")]
    [InlineData("app==web", "a,b")]
    [InlineData("app!=web", "c,d")]
    [InlineData("app in (web, db)", "a,b,c")]
    [InlineData("app notin (web)", "c,d")]
    [InlineData("tier", "a,c")]
    [InlineData("!tier", "b,d")]
    [InlineData("app=web,tier=front", "a")]
    public async Task List_filters_by_label_selector(string selector, string expected)
    {
        await Client.CreateAsync(Pod("a", new Dictionary<string, string> { ["app"] = "web", ["tier"] = "front" }));
        await Client.CreateAsync(Pod("b", new Dictionary<string, string> { ["app"] = "web" }));
        await Client.CreateAsync(Pod("c", new Dictionary<string, string> { ["app"] = "db", ["tier"] = "back" }));
        await Client.CreateAsync(Pod("d"));

        var list = await Client.ListAsync<V1Pod>("default", new ListOptions { LabelSelector = selector });

        list.Items.Select(p => p.Metadata.Name).Should().Equal(expected.Split(','));
    }

    [Fact]
    public async Task List_filters_by_field_selector()
    {
        await Client.CreateAsync(Pod("a", node: "n1"));
        await Client.CreateAsync(Pod("b", node: "n2"));
        await Client.CreateAsync(Pod("c"));

        (await Client.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "spec.nodeName=n1" })).Items.Select(p => p.Metadata.Name).Should().Equal("a");
        (await Client.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "spec.nodeName=" })).Items.Select(p => p.Metadata.Name).Should().Equal("c");
        (await Client.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "metadata.name!=a,spec.nodeName!=" })).Items.Select(p => p.Metadata.Name).Should().Equal("b");
        (await Client.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "status.phase=Pending,metadata.namespace=default" })).Items.Should().HaveCount(3, "new pods are Pending");
        (await Client.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "status.phase=Running" })).Items.Should().BeEmpty();
        await Client.Invoking(c => c.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "spec.containers=x" })).Should().ThrowAsync<BadRequestException>().WithMessage("field label not supported: spec.containers");
    }

    [Fact]
    public async Task Paging_with_limit_and_continue_is_one_snapshot()
    {
        for (var i = 0; i < 7; i++)
        {
            await Client.CreateAsync(Pod($"p{i}", new Dictionary<string, string> { ["even"] = (i % 2 == 0).ToString() }));
        }

        var first = await Client.ListAsync<V1Pod>("default", new ListOptions { Limit = 2, LabelSelector = "even=True" });
        await Client.DeleteAsync<V1Pod>("default", "p6");
        var names = first.Items.Select(p => p.Metadata.Name).ToList();
        var token = first.Continue;
        while (token is not null)
        {
            var page = await Client.ListAsync<V1Pod>("default", new ListOptions { Limit = 2, LabelSelector = "even=True", Continue = token });
            page.ResourceVersion.Should().Be(first.ResourceVersion);
            names.AddRange(page.Items.Select(p => p.Metadata.Name));
            token = page.Continue;
        }

        names.Should().Equal("p0", "p2", "p4", "p6");
    }

    [Fact]
    public async Task Bad_selectors_and_continue_tokens_are_bad_requests_and_a_compacted_token_is_gone()
    {
        await Client.Invoking(c => c.ListAsync<V1Pod>(null, new ListOptions { LabelSelector = "app in (web" })).Should().ThrowAsync<BadRequestException>();
        await Client.Invoking(c => c.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = "spec.nodeName" })).Should().ThrowAsync<BadRequestException>();
        await Client.Invoking(c => c.ListAsync<V1Pod>(null, new ListOptions { Continue = "not-a-token" })).Should().ThrowAsync<BadRequestException>();

        for (var i = 0; i < 3; i++)
        {
            await Client.CreateAsync(Pod($"p{i}"));
        }

        var first = await Client.ListAsync<V1Pod>("default", new ListOptions { Limit = 1 });
        await Client.CreateAsync(Pod("later"));
        await Store.CompactAsync((await Store.GetStatusAsync()).Revision);

        var gone = await Client.Invoking(c => c.ListAsync<V1Pod>("default", new ListOptions { Limit = 1, Continue = first.Continue })).Should().ThrowAsync<GoneException>();
        gone.Which.Code.Should().Be(410);
    }

    [Fact]
    public async Task Watch_delivers_added_modified_deleted_and_selector_transitions()
    {
        await Client.CreateAsync(Pod("existing", new Dictionary<string, string> { ["app"] = "web" }));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = new List<(WatchEventType, string)>();
        var reading = Task.Run(async () =>
        {
            await foreach (var evt in Client.WatchAsync<V1Pod>("default", new WatchOptions { LabelSelector = "app=web" }, cts.Token))
            {
                events.Add((evt.Type, evt.Object.Metadata.Name));
                if (events.Count == 5)
                {
                    break;
                }
            }
        });

        await Task.Delay(100);
        await Client.CreateAsync(Pod("other", new Dictionary<string, string> { ["app"] = "db" }));
        var web = await Client.CreateAsync(Pod("web", new Dictionary<string, string> { ["app"] = "web" }));
        web.Metadata.Labels["app"] = "db";
        var left = await Client.UpdateAsync(web);
        var other = await Client.GetAsync<V1Pod>("default", "other");
        other.Metadata.Labels["app"] = "web";
        await Client.UpdateAsync(other);
        await Client.DeleteAsync<V1Pod>("default", "existing");
        await reading;

        events.Should().Equal(
            (WatchEventType.Added, "existing"),
            (WatchEventType.Added, "web"),
            (WatchEventType.Deleted, "web"),
            (WatchEventType.Added, "other"),
            (WatchEventType.Deleted, "existing"));
        left.Metadata.Labels["app"].Should().Be("db");
    }

    [Fact]
    public async Task Watch_from_a_resource_version_replays_later_changes_and_a_compacted_one_is_gone()
    {
        var created = await Client.CreateAsync(Pod("web"));
        created.Metadata.Labels = new Dictionary<string, string> { ["x"] = "y" };
        var updated = await Client.UpdateAsync(created);

        var events = new List<ObjectEvent<V1Pod>>();
        await foreach (var evt in Client.WatchAsync<V1Pod>("default", new WatchOptions { ResourceVersion = created.Metadata.ResourceVersion }, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
        {
            events.Add(evt);
            break;
        }

        events.Single().Type.Should().Be(WatchEventType.Modified);
        events.Single().Object.Metadata.ResourceVersion.Should().Be(updated.Metadata.ResourceVersion);

        await Store.CompactAsync(long.Parse(updated.Metadata.ResourceVersion));
        var stale = async () =>
        {
            await foreach (var _ in Client.WatchAsync<V1Pod>("default", new WatchOptions { ResourceVersion = created.Metadata.ResourceVersion }))
            {
            }
        };
        (await stale.Should().ThrowAsync<GoneException>()).Which.Code.Should().Be(410);
    }

    [Fact]
    public async Task Finalizers_hold_a_deleted_object_until_the_last_one_is_removed()
    {
        var pod = Pod("held");
        pod.Metadata.Finalizers = ["example.com/hold"];
        await Client.CreateAsync(pod);

        var marked = await Client.DeleteAsync<V1Pod>("default", "held");
        marked.Metadata.DeletionTimestamp.Should().Be(Clock.GetUtcNow().UtcDateTime);
        (await Client.GetAsync<V1Pod>("default", "held")).Metadata.DeletionTimestamp.Should().NotBeNull();

        marked.Metadata.Finalizers = [];
        await Client.UpdateAsync(marked);

        await Client.Invoking(c => c.GetAsync<V1Pod>("default", "held")).Should().ThrowAsync<NotFoundException>();
    }

    [Fact]
    public async Task Delete_checks_preconditions_and_a_missing_object_is_not_found()
    {
        await Client.CreateAsync(Pod("web"));

        await Client.Invoking(c => c.DeleteAsync<V1Pod>("default", "web", new DeleteOptions { PreconditionUid = "other" })).Should().ThrowAsync<ConflictException>();
        (await Client.DeleteAsync<V1Pod>("default", "web")).Metadata.Name.Should().Be("web");
        var missing = await Client.Invoking(c => c.DeleteAsync<V1Pod>("default", "web")).Should().ThrowAsync<NotFoundException>();
        missing.Which.Message.Should().Be("pods \"web\" not found");
    }

    [Fact]
    public async Task A_merge_patch_changes_only_what_it_names()
    {
        await Client.CreateAsync(Pod("web", new Dictionary<string, string> { ["keep"] = "1", ["drop"] = "2" }));

        var patched = await Client.PatchAsync<V1Pod>("default", "web", new ObjectPatch(PatchKind.Merge, """{"metadata":{"labels":{"drop":null,"add":"3"}}}"""));

        patched.Metadata.Labels.Should().BeEquivalentTo(new Dictionary<string, string> { ["keep"] = "1", ["add"] = "3" });
        patched.Spec.Containers.Single().Image.Should().Be("busybox");
        await Client.Invoking(c => c.PatchAsync<V1Pod>("default", "web", new ObjectPatch(PatchKind.Merge, "{not json"))).Should().ThrowAsync<BadRequestException>();
    }

    [Fact]
    public async Task Binding_assigns_a_pod_to_a_node_once_and_marks_it_scheduled()
    {
        await Client.CreateAsync(Pod("web"));

        await Client.BindAsync("default", "web", "node-1");
        var bound = await Client.GetAsync<V1Pod>("default", "web");
        var again = await Client.Invoking(c => c.BindAsync("default", "web", "node-2")).Should().ThrowAsync<ConflictException>();

        bound.Spec.NodeName.Should().Be("node-1");
        bound.Status.Conditions.Should().ContainSingle(c => c.Type == "PodScheduled" && c.Status == "True");
        again.Which.Message.Should().Contain("already assigned to node \"node-1\"");
        await Client.Invoking(c => c.BindAsync("default", "missing", "node-1")).Should().ThrowAsync<NotFoundException>();
    }
}
