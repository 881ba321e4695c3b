using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;

namespace Orchestration.State.Etcd.Hosting;

/// <summary>Chooses a real etcd cluster as a master's store.</summary>
public static class EtcdMasterBuilderExtensions
{
    /// <summary>
    /// Keeps the cluster's state in the etcd cluster at <see cref="EtcdStateStoreOptions.Endpoints"/>
    /// (its v3 gRPC API): the store for several masters.
    /// </summary>
    public static IMasterBuilder UseEtcdStateStore(this IMasterBuilder builder, Action<EtcdStateStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<EtcdStateStoreOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EtcdStateStoreOptions>, EtcdStateStoreOptionsValidator>());
        builder.Services.TryAddSingleton<EtcdStateStore>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IStateStore>(sp => sp.GetRequiredService<EtcdStateStore>()));
        return builder;
    }

    /// <summary>Every endpoint must be an http(s) URL of an etcd member.</summary>
    private sealed class EtcdStateStoreOptionsValidator : IValidateOptions<EtcdStateStoreOptions>
    {
        public ValidateOptionsResult Validate(string? name, EtcdStateStoreOptions options)
        {
            if (options.Endpoints.Count == 0)
            {
                return ValidateOptionsResult.Fail("EtcdStateStoreOptions.Endpoints is empty: name at least one etcd member (http://127.0.0.1:2379)");
            }

            var bad = options.Endpoints.Where(e => !Uri.TryCreate(e, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")).ToList();
            return bad.Count == 0
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(bad.Select(e => $"EtcdStateStoreOptions.Endpoints \"{e}\" is not an http(s) URL of an etcd member"));
        }
    }
}
