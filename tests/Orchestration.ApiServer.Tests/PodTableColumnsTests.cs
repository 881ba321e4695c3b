using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.ApiServer.Tables;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Tests;

/// <summary>The pod table's STATUS and RESTARTS cells (what <c>kubectl get pods</c> shows), as Kubernetes's printer derives them.</summary>
[Trait("Category", "Unit")]
public sealed class PodTableColumnsTests
{
    private static readonly IReadOnlyList<TableColumn> Columns = KindColumns.For(ResourceKindTable.CreateDefault().For<V1Pod>());

    private static string Cell(string column, string podJson) =>
        Columns.Single(c => c.Name == column).Cell(JsonNode.Parse(podJson)!.AsObject(), DateTimeOffset.UnixEpoch)!.ToString();

    private const string TwoInits = """{"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"app"}]},"status":{"phase":"Pending",""";

    [Fact]
    public void An_initializing_pod_shows_how_many_init_containers_completed()
    {
        var pod = TwoInits + """
            "initContainerStatuses":[{"name":"a","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},{"name":"b","restartCount":0,"state":{"running":{}}}],
            "containerStatuses":[{"name":"app","restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """;

        Cell("Status", pod).Should().Be("Init:1/2");
    }

    [Fact]
    public void A_failed_or_crash_looping_init_container_shows_its_reason_and_its_restarts()
    {
        var failed = TwoInits + """
            "initContainerStatuses":[{"name":"a","restartCount":0,"state":{"terminated":{"exitCode":2,"reason":"Error"}}},{"name":"b","restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}],
            "containerStatuses":[{"name":"app","restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """;
        var looping = TwoInits + """
            "initContainerStatuses":[{"name":"a","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}},{"name":"b","restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}],
            "containerStatuses":[{"name":"app","restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """;

        Cell("Status", failed).Should().Be("Init:Error");
        Cell("Status", looping).Should().Be("Init:CrashLoopBackOff");
        Cell("Restarts", looping).Should().Be("3");
    }

    [Fact]
    public void After_initialization_the_app_containers_decide()
    {
        var pod = TwoInits + """
            "conditions":[{"type":"Initialized","status":"True"}],
            "initContainerStatuses":[{"name":"a","restartCount":1,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},{"name":"b","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
            "containerStatuses":[{"name":"app","restartCount":4,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}
            """;

        Cell("Status", pod).Should().Be("CrashLoopBackOff");
        Cell("Restarts", pod).Should().Be("4");
    }

    [Fact]
    public void A_completed_container_beside_a_running_one_is_not_shown_as_Completed()
    {
        var pod = """
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running",
            "conditions":[{"type":"Ready","status":"False"}],
            "containerStatuses":[{"name":"a","ready":true,"restartCount":0,"state":{"running":{}}},{"name":"b","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}
            """;

        Cell("Status", pod).Should().Be("NotReady");
    }

    [Fact]
    public void A_started_sidecar_counts_as_a_ready_container_and_its_restarts_count()
    {
        var pod = """
            {"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"proxy","restartPolicy":"Always"}],"containers":[{"name":"app"}]},"status":{"phase":"Running",
            "conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"}],
            "initContainerStatuses":[{"name":"proxy","ready":true,"started":true,"restartCount":2,"state":{"running":{}}}],
            "containerStatuses":[{"name":"app","ready":true,"restartCount":1,"state":{"running":{}}}]}}
            """;

        Cell("Ready", pod).Should().Be("2/2");
        Cell("Status", pod).Should().Be("Running");
        Cell("Restarts", pod).Should().Be("3");
    }
}
