package dev.tally.worker;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The worker uses the store through its API and reading seam only, and its packages have no cycles. */
class WorkerArchitectureTest {
    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.tally.worker");
    }

    /** No worker class imports the store's core. */
    @Test
    void storeInternal_notImportedByWorker() {
        noClasses().should().dependOnClassesThat().resideInAPackage("dev.tally.store.internal..")
                .because("the worker reads the store through UsageStore and dev.tally.store.read")
                .check(main);
    }

    /** No worker package depends, directly or through others, on a package that depends on it. */
    @Test
    void packages_haveNoCycles() {
        slices().matching("dev.tally.worker.(*)..").should().beFreeOfCycles().check(main);
    }
}
