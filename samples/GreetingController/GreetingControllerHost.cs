using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Hosting;
using Orchestration.Resources;

namespace Orchestration.Samples.GreetingController;

/// <summary>How the sample composes its controller: the same registration in-process or against a remote API.</summary>
public static class GreetingControllerHost
{
    /// <summary>The kind table with the Greeting kind added.</summary>
    public static ResourceKindTable Kinds() =>
        ResourceKindTable.CreateDefault().Register(ResourceKind.For<Greeting>(namespaced: true, hasStatus: true));

    /// <summary>Registers the reconciler: it watches Greetings and the ConfigMaps they own.</summary>
    public static IServiceCollection AddGreetingController(this IServiceCollection services) =>
        services.AddController<GreetingReconciler>(c => c.For<Greeting>().Owns<V1ConfigMap, Greeting>())
            .Configure<ControllerManagerOptions>(o => o.Election.LeaseName = "greeting-controller");
}
