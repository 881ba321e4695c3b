using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orchestration.Hosting;

namespace Orchestration.ApiServer.Hosting;

/// <summary>Adds the API server to a master.</summary>
public static class ApiServerMasterBuilderExtensions
{
    /// <summary>
    /// Serves the Kubernetes API of this master (discovery, CRUD, watch, patch, apply, logs and exec
    /// through the nodes) on <see cref="ApiServerHostOptions.Address"/> and
    /// <see cref="ApiServerHostOptions.Port"/>; the <c>kubernetes</c> Service targets that port.
    /// </summary>
    public static IMasterBuilder AddApiServer(this IMasterBuilder builder, Action<ApiServerHostOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<ApiServerHostOptions>()
            .Configure(o => configure?.Invoke(o))
            .Validate(o => o.Port is >= 0 and <= 65535, "ApiServerHostOptions.Port must be 0 (any free port) or a TCP port")
            .Validate(o => !(o.AdminKubeconfigPath is not null && o.Certificates is null && o.CertificateDirectory is null), "ApiServerHostOptions.AdminKubeconfigPath needs certificates: set CertificateDirectory (or Certificates)")
            .ValidateOnStart();

        // The API's options ride on the host options so that one callback configures the server.
        services.AddOptions<ApiServerOptions>().Configure<Microsoft.Extensions.Options.IOptions<ApiServerHostOptions>>((api, host) => host.Value.Api?.Invoke(api));
        services.AddOrchestrationApiServer();
        services.TryAddSingleton<ApiServerService>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ApiServerService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Controllers.Auth.IRootCaSource, ApiServerService>(sp => sp.GetRequiredService<ApiServerService>()));
        return builder;
    }

    /// <summary>
    /// Encrypts objects at rest as the <c>EncryptionConfiguration</c> file at <paramref name="path"/>
    /// says (kube-apiserver's <c>--encryption-provider-config</c>: aesgcm, aescbc and identity
    /// providers per resource, the first provider writing). Read when the master starts; a missing or
    /// invalid file stops the start with the reason.
    /// </summary>
    public static IMasterBuilder UseEncryptionConfiguration(this IMasterBuilder builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(path);
        builder.Services.AddOptions<Resources.RegistryOptions>().Configure(o => o.Encryption = LoadEncryption(path));
        return builder;
    }

    private static Resources.Encryption.StorageEncryption LoadEncryption(string path) =>
        ConfigurationFiles.Load(path, "encryption configuration", text => Resources.Encryption.StorageEncryption.FromConfiguration(ConfigurationFiles.YamlObject(text)));
}
