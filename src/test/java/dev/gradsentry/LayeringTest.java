package dev.gradsentry;

import com.tngtech.archunit.core.domain.JavaClasses;
import dev.gradsentry.config.GradSentryConfig;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

/**
 * The layering every change keeps: {@code training} and {@code metrics} each build on {@code core} alone, and the
 * service ({@code api}, {@code config}) wires them together; nothing points back up. {@code metrics} reads what core
 * measures and is told the run's names, so it imports nothing of how runs are made. {@code core} is the library a
 * user attaches with one line, so it imports only the JDK, DL4J and ND4J: no Quarkus, no configuration, no JSON, no
 * metrics. {@code core} and {@code metrics} are also the library artifact ({@code src/library/pom.xml}, without
 * Quarkus), so {@code metrics} imports only {@code core}, the JDK and Micrometer.
 */
class LayeringTest {

    /** The main classes, read from where they were compiled: scanning the whole classpath (DL4J's jars) is slow. */
    private static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importUrl(GradSentryConfig.class.getProtectionDomain().getCodeSource().getLocation());

    @Test
    void eachLayerUsesOnlyTheLayersBelowIt() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("core").definedBy("dev.gradsentry.core..")
                .layer("training").definedBy("dev.gradsentry.training..")
                .layer("metrics").definedBy("dev.gradsentry.metrics..")
                .layer("service").definedBy("dev.gradsentry.api..", "dev.gradsentry.config..")
                .whereLayer("service").mayNotBeAccessedByAnyLayer()
                .whereLayer("metrics").mayOnlyBeAccessedByLayers("service")
                .whereLayer("training").mayOnlyBeAccessedByLayers("service")
                .check(MAIN);
    }

    @Test
    void coreImportsOnlyTheJdkAndDeeplearning4j() {
        noClasses().that().resideInAPackage("dev.gradsentry.core..")
                .should().dependOnClassesThat().resideOutsideOfPackages("dev.gradsentry.core..", "java..",
                        // sun.misc: the JDK's Unsafe, with which the probe reads ND4J's native memory in place
                        "sun.misc..", "org.deeplearning4j..", "org.nd4j..")
                .check(MAIN);
    }

    @Test
    void metricsImportsOnlyCoreTheJdkAndMicrometer() {
        noClasses().that().resideInAPackage("dev.gradsentry.metrics..")
                .should().dependOnClassesThat().resideOutsideOfPackages("dev.gradsentry.metrics..",
                        "dev.gradsentry.core..", "java..", "io.micrometer..")
                .check(MAIN);
    }
}
