using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orchestration.ApiServer.Discovery;
using Orchestration.ApiServer.Handlers;
using Orchestration.ApiServer.OpenApi;
using Orchestration.ApiServer.Patching;
using Orchestration.ApiServer.Tables;
using Orchestration.Hosting;
using Orchestration.Resources;
using Orchestration.Resources.Patching;
using k8s.Models;

namespace Orchestration.ApiServer.Hosting;

/// <summary>The DI front door of the API server.</summary>
public static class ApiServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the API server's parts over the registry (<see cref="OrchestrationServiceCollectionExtensions.AddOrchestrationState"/>
    /// is added too): the resource handler, discovery, OpenAPI, tables, JSON patch and server-side
    /// apply, and the service that serves custom kinds. Map them with
    /// <see cref="KubernetesApiEndpoints.MapKubernetesApi"/>.
    /// </summary>
    public static IServiceCollection AddOrchestrationApiServer(this IServiceCollection services, Action<ApiServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ApiServerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddOrchestrationState();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IObjectPatcher, JsonPatcher>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IObjectPatcher, ApplyPatcher>());
        services.TryAddSingleton<TableConverter>();
        services.TryAddSingleton(sp => new DiscoveryDocuments(sp.GetRequiredService<ResourceKindTable>()));
        services.TryAddSingleton(_ => new ModelDescriptions(typeof(V1Pod)));
        services.TryAddSingleton<OpenApiDocuments>();
        services.TryAddSingleton<Proxy.PodConnections>();
        services.TryAddSingleton<ResourceHandler>();
        services.AddHostedService<CustomResourceKinds>();

        // Authorization: the Node authorizer, then RBAC (each following what it needs through
        // informers) behind the chain that lets system:masters through; the default roles reconciled at start.
        services.TryAddSingleton<Security.Authorization.NodeAuthorizer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Security.Authorization.IAuthorizer, Security.Authorization.NodeAuthorizer>(sp => sp.GetRequiredService<Security.Authorization.NodeAuthorizer>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Security.Authorization.IRuleResolver, Security.Authorization.NodeAuthorizer>(sp => sp.GetRequiredService<Security.Authorization.NodeAuthorizer>()));
        services.TryAddSingleton<Security.Rbac.RbacAuthorizer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Security.Authorization.IAuthorizer, Security.Rbac.RbacAuthorizer>(sp => sp.GetRequiredService<Security.Rbac.RbacAuthorizer>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Security.Authorization.IRuleResolver, Security.Rbac.RbacAuthorizer>(sp => sp.GetRequiredService<Security.Rbac.RbacAuthorizer>()));
        services.TryAddSingleton<Security.Authorization.RequestAuthorization>();

        // Overload protection: seats per priority level, 429 with Retry-After when they and their queue are full.
        services.TryAddSingleton(sp => new Security.Overload.RequestConcurrency(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiServerOptions>>().Value,
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Security.Overload.RequestConcurrency>>()));

        // Dynamic admission: the webhooks of Mutating/ValidatingWebhookConfigurations, after the built-in plugins.
        services.TryAddSingleton<Admission.WebhookAdmission>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Resources.Admission.IMutatingAdmissionPlugin, Admission.WebhookAdmission>(sp => sp.GetRequiredService<Admission.WebhookAdmission>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Resources.Admission.IValidatingAdmissionPlugin, Admission.WebhookAdmission>(sp => sp.GetRequiredService<Admission.WebhookAdmission>()));

        // Authentication beyond client certificates: ServiceAccount tokens (signed with the key
        // beside the cluster CA, set when the server starts with certificates).
        services.TryAddSingleton<Security.Tokens.ServiceAccountTokens>();
        // The node agents of this process fill their pods' token volumes here, without a round trip.
        services.TryAddSingleton<Client.IServiceAccountTokenClient>(sp => sp.GetRequiredService<Security.Tokens.ServiceAccountTokens>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Security.Tokens.ITokenAuthenticator, Security.Tokens.ServiceAccountTokens>(sp => sp.GetRequiredService<Security.Tokens.ServiceAccountTokens>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Security.Tokens.ITokenAuthenticator, Security.Tokens.BootstrapTokens>());
        services.TryAddSingleton<Security.Tokens.TokenAuthenticators>();
        if (!services.Any(d => d.ServiceType == typeof(Security.Rbac.RbacBootstrap)))
        {
            services.AddSingleton<Security.Rbac.RbacBootstrap>();
            services.AddHostedService(sp => sp.GetRequiredService<Security.Rbac.RbacBootstrap>());
            services.AddHostedService(sp => sp.GetRequiredService<Security.Rbac.RbacAuthorizer>());
            services.AddHostedService(sp => sp.GetRequiredService<Security.Authorization.NodeAuthorizer>());
        }
        services.AddRouting();
        return services;
    }
}
