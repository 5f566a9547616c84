package dev.tally.store;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The store's layering, checked on the compiled main classes: {@code dev.tally.store.internal} is
 * the store's core and nothing outside it reads its types, except the two places that must; and
 * no two packages depend on each other.
 */
class ArchitectureTest {
    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.tally.store");
    }

    /** Only the core, the builder's root package and the repair tool import internal types; everything else reads through the read seam. */
    @Test
    void internal_importedOnlyByCoreBuilderAndRepair() {
        noClasses().that().resideOutsideOfPackages(
                        "dev.tally.store.internal..",
                        // The builder opens the core's store and hands it out as a UsageStore.
                        "dev.tally.store",
                        // Repair rebuilds the manifest from the files on disk while no store can open:
                        // it must write the core's manifest format (Manifest, SealedPart, SegmentFiles).
                        "dev.tally.store.repair..")
                .should().dependOnClassesThat().resideInAPackage("dev.tally.store.internal..")
                .because("code outside the store's core reads through dev.tally.store.read (StoreReader, "
                        + "ReadView, TierSql); see docs/architecture.md")
                .check(main);
    }

    /** No package of the library depends, directly or through others, on a package that depends on it. */
    @Test
    void packages_haveNoCycles() {
        slices().matching("dev.tally.store.(*)..").should().beFreeOfCycles().check(main);
    }
}
