// Groovy syntax check of Jenkinsfiles (no Jenkins needed): groovy syntaxcheck.groovy Jenkinsfile ...
// Compiles each file to the CONVERSION phase, which catches what Jenkins' parser would reject as syntax.
import org.codehaus.groovy.control.CompilationFailedException
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

int bad = 0
args.each { name ->
    def unit = new CompilationUnit()
    unit.addSource(new File(name))
    try {
        unit.compile(Phases.CONVERSION)
        println "OK ${name}"
    } catch (CompilationFailedException e) {
        bad++
        println "SYNTAX ERROR ${name}: ${e.message.readLines().take(3).join(' | ')}"
    }
}
System.exit(bad ? 1 : 0)
