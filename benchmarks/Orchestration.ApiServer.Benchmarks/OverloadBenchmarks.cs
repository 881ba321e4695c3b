using System.Net;
using System.Text;

namespace Orchestration.ApiServer.Benchmarks;

/// <summary>
/// What authorization and overload protection cost and buy: closed-loop pod creates by a
/// system:masters user (no authorizer asked, no seat limits) beside a user whose rights come from an
/// RBAC binding, same run. The open-loop phases run their clients as processes of their own
/// (<see cref="LoadGenerator"/>).
/// </summary>
internal sealed class OverloadBenchmarks(BenchCluster cluster)
{
    /// <summary>Grants every authenticated user cluster-admin through RBAC, so the bench users' requests are authorized by evaluating a binding.</summary>
    public async Task BindAsync()
    {
        using var admin = cluster.Http();
        foreach (var (path, body) in new[]
        {
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"bench-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"Group","name":"bench-users"},{"kind":"Group","name":"system:nodes"}]}"""),
            ("/api/v1/namespaces", """{"metadata":{"name":"overload"}}"""),
            ("/api/v1/namespaces", """{"metadata":{"name":"kube-node-lease"}}"""),
        })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await admin.PostAsync(path, content);
            if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
            {
                throw new InvalidOperationException($"{path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        // The binding reaches the authorizer through its informers.
        using var user = cluster.Http2As("bench-rbac", "bench-users");
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var probe = await user.GetAsync("/api/v1/namespaces/overload/pods?limit=1");
            if (probe.IsSuccessStatusCode)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException("the RBAC binding never took effect");
    }

    /// <summary>Closed-loop creates by <paramref name="clients"/> concurrent callers over <paramref name="http"/>.</summary>
    public Task<Rate> ClosedLoopAsync(HttpClient http, int clients, int total) =>
        ApiBenchmarks.ClosedLoopAsync(clients, total, () => LoadGenerator.CreateAsync(http));
}
