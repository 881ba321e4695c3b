namespace Orchestration.E2E.Tests;

/// <summary>Manifests the tests apply, as a user would write them.</summary>
internal static class Manifests
{
    public const string App = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          greeting: hello
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels:
            app: web
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: httpd
                image: busybox
                command: ["httpd", "-f", "-p", "8080"]
                ports:
                - containerPort: 8080
                env:
                - name: MODE
                  value: test
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          selector:
            app: web
          ports:
          - port: 80
            targetPort: 8080
        """;

    public const string WidgetDefinition = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.e2e.example.com
        spec:
          group: e2e.example.com
          scope: Namespaced
          names:
            plural: widgets
            singular: widget
            kind: Widget
            shortNames: [wdg]
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      size:
                        type: integer
            additionalPrinterColumns:
            - name: Size
              type: integer
              jsonPath: .spec.size
        """;

    public static string Widget(string name, int size) => $"""
        apiVersion: e2e.example.com/v1
        kind: Widget
        metadata:
          name: {name}
        spec:
          size: {size}
        """;

    public static string ConfigMap(string name, string? labels = null) =>
        $"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n" + (labels is null ? "" : $"  labels:\n    {labels}\n");
}
