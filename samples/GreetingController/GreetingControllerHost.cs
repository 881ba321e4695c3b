using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Controllers;
using Orchestration.Hosting;
using Orchestration.Resources;

namespace Orchestration.Samples.GreetingController;

/// <summary>How the sample composes its controller: the same registration in a master of your own or in a process of its own against any cluster.</summary>
public static class GreetingControllerHost
{
    /// <summary>The Greeting kind, as its CRD serves it.</summary>
    public static ResourceKind Kind { get; } = ResourceKind.For<Greeting>(namespaced: true, hasStatus: true);

    /// <summary>In a master: the kind and its reconciler, run by the master's controller manager.</summary>
    public static IMasterBuilder AddGreetingController(this IMasterBuilder master)
    {
        ArgumentNullException.ThrowIfNull(master);
        master.Services.AddGreetingController();
        return master;
    }

    /// <summary>In any host (with <c>AddOrchestrationClient().UseKubeconfig(...)</c> for a process of its own): the kind, and the reconciler that watches Greetings and the ConfigMaps they own, under its own lease.</summary>
    public static IServiceCollection AddGreetingController(this IServiceCollection services) =>
        services.AddResourceKind(Kind)
            .AddController<GreetingReconciler>(c => c.For<Greeting>().Owns<V1ConfigMap, Greeting>())
            .Configure<ControllerManagerOptions>(o => o.Election.LeaseName = "greeting-controller");
}
